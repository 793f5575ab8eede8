//! `adder setup` and `adder teardown`: a prefix's queues, tables and bucket
//! made or removed as a whole (stack_tools), so a session on moto or an
//! account leaves nothing behind.

use crate::error::Error;
use serde_json::json;

pub async fn setup(prefix: &str, endpoint: Option<&str>, json: bool) -> Result<(), Error> {
    let stack = super::load_stack()?;
    let sdk = local::sdk_config(endpoint).await;
    let made = stack_tools::provision(&stack, &sdk, prefix)
        .await
        .map_err(|e| Error::Aws(format!("could not create the queues and tables: {e}")))?;
    if json {
        let out = json!({
            "queues": made.queue_urls,
            "tables": made.table_names,
            "buckets": made.bucket_names,
        });
        println!("{out}");
        return Ok(());
    }
    let rows = made
        .queue_urls
        .iter()
        .map(|(id, url)| ("queue", id, url))
        .chain(
            made.table_names
                .iter()
                .map(|(id, name)| ("table", id, name)),
        )
        .chain(
            made.bucket_names
                .iter()
                .map(|(id, name)| ("bucket", id, name)),
        );
    for (kind, id, name) in rows {
        println!("{kind:<7} {id:<28} {name}");
    }
    println!("remove them with: adder teardown --prefix {prefix}");
    Ok(())
}

pub async fn teardown(prefix: &str, endpoint: Option<&str>, json: bool) -> Result<(), Error> {
    let stack = super::load_stack()?;
    let sdk = local::sdk_config(endpoint).await;
    let removed = stack_tools::teardown(&stack, &sdk, prefix)
        .await
        .map_err(|e| Error::Aws(format!("could not remove everything of {prefix}: {e}")))?;
    if json {
        let buckets: Vec<_> = removed
            .buckets
            .iter()
            .map(|(name, objects)| json!({"name": name, "objectVersions": objects}))
            .collect();
        let out = json!({
            "queues": removed.queues,
            "tables": removed.tables,
            "buckets": buckets,
            "absent": removed.absent,
        });
        println!("{out}");
        return Ok(());
    }
    for (name, objects) in &removed.buckets {
        println!("removed bucket {name} ({objects} object versions and delete markers)");
    }
    for name in &removed.tables {
        println!("removed table  {name}");
    }
    for name in &removed.queues {
        println!("removed queue  {name}");
    }
    if !removed.absent.is_empty() {
        println!("already absent: {}", removed.absent.join(", "));
    }
    Ok(())
}
