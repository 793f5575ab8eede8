//! How a request's format is read: by name, else from the key's suffix; for
//! CSV a column and a header flag, with the deployment's defaults; the
//! refusals, word for word (the API answers them as 400s).

use pipeline::{Column, Config, FormatName, FormatRequest};

fn asked(
    name: Option<&str>,
    column: Option<Column>,
    header: Option<bool>,
    key: &str,
) -> Result<FormatRequest, String> {
    let config = Config {
        input_csv_column: "amount".into(),
        ..Config::default()
    };
    FormatRequest::asked(name, column, header, key, &config)
}

#[test]
fn a_named_format_wins_over_the_key() {
    assert_eq!(
        asked(Some("lines"), None, None, "a.json"),
        Ok(FormatRequest::Lines)
    );
    assert_eq!(
        asked(Some("json"), None, None, "a.csv"),
        Ok(FormatRequest::JsonArray)
    );
    assert_eq!(
        asked(Some("csv"), None, None, "a.txt"),
        Ok(FormatRequest::Csv {
            column: Column::Name("amount".into()),
            header: true
        })
    );
}

#[test]
fn without_a_name_the_key_decides() {
    assert_eq!(
        asked(None, None, None, "A.JSON"),
        Ok(FormatRequest::JsonArray)
    );
    assert_eq!(asked(None, None, None, "data"), Ok(FormatRequest::Lines));
    assert_eq!(
        asked(None, Some(Column::Index(2)), Some(false), "x.csv"),
        Ok(FormatRequest::Csv {
            column: Column::Index(2),
            header: false
        })
    );
}

#[test]
fn refusals_say_what_was_wrong() {
    assert_eq!(
        asked(Some("xml"), None, None, "a.xml"),
        Err("format \"xml\" is not one of json, lines, csv".into())
    );
    assert_eq!(
        asked(Some("lines"), Some(Column::Index(1)), None, "a"),
        Err("column and header apply to the csv format only".into())
    );
    assert_eq!(
        asked(None, None, Some(true), "a.json"),
        Err("column and header apply to the csv format only".into())
    );
}

#[test]
fn names_read_back_as_written() {
    for name in FormatName::ALL {
        assert_eq!(name.as_str().parse::<FormatName>(), Ok(name));
    }
}
