//! The laws every job keeps, as one function a test can call on any job
//! and any inputs (the shipped jobs' property tests do; so can yours).

use super::{map_all, Job, Record, MAX_VALUE_BYTES};

/// Checks the laws on `parts`, consecutive pieces of one input (at least
/// one piece; any may be empty), as packets or byte ranges would cut it:
/// - mapping the whole equals combining the maps of the pieces, in order;
/// - `combine` is associative on the first three pieces' values;
/// - the identity is neutral on both sides and is what no record maps to;
/// - `decode(encode(v)) == v`, `encode` is canonical and fits an item.
///
/// Returns the first law broken, in words, with the values involved. A
/// job error from `add` or `combine` (too many groups, say) is not a
/// broken law: it is returned as it is, for the caller to expect or not.
pub fn check_laws<J: Job>(job: &J, parts: &[Vec<Record<'_>>]) -> Result<(), String> {
    let err = |e: super::JobError| format!("job error: {} ({})", e.reason, e.code);
    let values = parts
        .iter()
        .map(|p| map_all(job, p.iter().copied()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let whole = map_all(job, parts.iter().flatten().copied()).map_err(err)?;
    let combined = values
        .iter()
        .cloned()
        .try_fold(job.identity(), |acc, v| job.combine(acc, v))
        .map_err(err)?;
    if combined != whole {
        return Err(format!(
            "mapping the whole gave {whole:?}, combining its pieces {combined:?}"
        ));
    }
    if let [a, b, c, ..] = &values[..] {
        let left = job
            .combine(job.combine(a.clone(), b.clone()).map_err(err)?, c.clone())
            .map_err(err)?;
        let right = job
            .combine(a.clone(), job.combine(b.clone(), c.clone()).map_err(err)?)
            .map_err(err)?;
        if left != right {
            return Err(format!(
                "not associative: (ab)c = {left:?}, a(bc) = {right:?}"
            ));
        }
    }
    let e = job.identity();
    let empty = map_all(job, []).map_err(err)?;
    if empty != e {
        return Err(format!(
            "no record maps to {empty:?}, the identity is {e:?}"
        ));
    }
    for v in values.iter().chain([&whole]) {
        let (l, r) = (
            job.combine(e.clone(), v.clone()).map_err(err)?,
            job.combine(v.clone(), e.clone()).map_err(err)?,
        );
        if &l != v || &r != v {
            return Err(format!(
                "identity not neutral on {v:?}: e·v = {l:?}, v·e = {r:?}"
            ));
        }
        let text = job.encode(v);
        let back = job.decode(&text).map_err(err)?;
        if &back != v || job.encode(&back) != text {
            return Err(format!("`{text}` decodes to {back:?}, not {v:?}"));
        }
        if text.len() > MAX_VALUE_BYTES {
            return Err(format!("an encoded value of {} bytes", text.len()));
        }
    }
    Ok(())
}
