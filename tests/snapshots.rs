//! Golden snapshots of the summary of every shipped scenario at a small trial count.
//!
//! A snapshot holds a digest of summary.json rather than the file (over 200 KB a scenario, most
//! of it per-month bands at full float precision, which no reviewer can read in a diff). Its
//! first line is the byte length and CRC-32 of the exact summary.json bytes, so any change of any
//! bit fails the test even where the digest below rounds it away: the full-precision bytes are
//! checked by that hash here, and by the determinism tests (tests/determinism.rs), which compare
//! them across thread counts and split runs, and the kernels bit for bit. The rest of the digest
//! is for people: each number to 4 significant figures, a line per value or per record of values,
//! and long arrays summarised (see [`digest`]).

use std::fmt::Write as _;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use supplyshock::io::output;

use crate::common::run;

#[test]
fn shipped_scenarios() {
    let files = supplyshock::io::read::shipped_scenarios();
    assert!(
        files.len() >= 12,
        "expected the default, three teaching scenarios and the what-if variants"
    );
    for path in files {
        let m = supplyshock::io::read::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let r = run(&m, 400, 2026, 0);
        let json = output::summary_json(&supplyshock::app::summarise(&m, &r)).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let name = if path.parent().is_some_and(|p| p.ends_with("what-if")) {
            format!("what-if-{stem}")
        } else {
            stem
        };
        insta::assert_snapshot!(name, digest(&json));
    }
}

#[test]
fn the_built_in_default_is_the_shipped_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/rare-earths-2026.toml");
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        supplyshock::DEFAULT_SCENARIO
    );
}

#[test]
fn the_digest_rounds_to_four_figures_and_hashes_every_bit() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (799.6933701580763, "799.7"),
        (72657.66432662046, "72660"),
        (9999.6, "10000"),
        (0.011006318157478712, "0.01101"),
        (0.0001, "0.0001"),
        (0.00001234, "1.234e-5"),
        (-314.26, "-314.3"),
        (5.892e6, "5.892e6"),
        (123456.0, "123500"),
        (1234567.0, "1.235e6"),
    ];
    for (x, text) in cases {
        assert_eq!(sig4(x), text, "{x}");
    }
    let a = br#"{"x": [1.00000000001, 2.0], "n": 3}"#;
    let b = br#"{"x": [1.00000000002, 2.0], "n": 3}"#;
    let (da, db) = (digest(a), digest(b));
    assert_ne!(da, db);
    assert_eq!(
        da.lines().skip(1).collect::<Vec<_>>(),
        db.lines().skip(1).collect::<Vec<_>>(),
        "only the hash line tells them apart"
    );
    assert_eq!(
        da.lines().nth(1),
        Some("x = [1, 2]"),
        "keys keep their order"
    );
}

/// Arrays of more numbers than this are summarised rather than written out.
const LONG: usize = 12;

/// The most `key value` items on one line of a record.
const PER_LINE: usize = 6;

/// A compact, stable, readable text of a summary.json: a line with the length and CRC-32 of the
/// bytes, then a line per value, `path = value`, or per record of values,
/// `path: key value, key value`, in the file's order, with paths through objects by key and
/// through arrays of objects by each element's `id`, `node` or `from->to` where those name the
/// elements uniquely (else by index).
///
/// - Numbers are written to 4 significant figures (integers exactly); an estimate is followed by
///   its confidence interval, `p90 2853 [2273, 4485]`, where a `percentile_ci95` object or
///   `ci95_low` and `ci95_high` give one.
/// - A record (an object with at least three scalars or short arrays of numbers) is written at
///   most `PER_LINE` items a line; which items share a line depends only on how many there are,
///   so a changed value changes one line.
/// - An object of more than two numbers, all 0, is written `all 0 (N numbers)`.
/// - Up to `LONG` objects without a key, all with the same scalar fields, are written as a record
///   of columns: `exceedance[]: threshold_share [0.05, 0.1, 0.2], probability [0.0775, 0.0175, 0]`.
/// - Longer arrays are summarised: a monthly series (objects with a `month`) a line per field,
///   with its first, last, min, max and mean; any other array of objects by each field's mean,
///   then its first element (the top one, where the array is ranked) in full; an array of
///   scalars by its first, last, min, max and mean.
fn digest(json: &[u8]) -> String {
    let value: Json = serde_json::from_slice(json).expect("summary.json is JSON");
    let mut out = format!(
        "summary.json: {} bytes, crc32 {:08x}\n",
        json.len(),
        crc32fast::hash(json)
    );
    walk(&value, "", &mut out);
    out
}

/// A JSON value whose objects keep their keys in the file's order (serde_json's `Value` sorts
/// them, without its `preserve_order` feature).
enum Json {
    Scalar(Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Bool(b)))
            }
            fn visit_u64<E>(self, x: u64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(x)))
            }
            fn visit_i64<E>(self, x: i64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(x)))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(x)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(x) = seq.next_element()? {
                    items.push(x);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Json::Object(fields))
            }
        }
        d.deserialize_any(Any)
    }
}

const NULL: Json = Json::Scalar(Value::Null);

impl Json {
    fn scalar(&self) -> Option<&Value> {
        match self {
            Json::Scalar(v) => Some(v),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        self.scalar().and_then(Value::as_f64)
    }

    fn text(&self) -> Option<&str> {
        self.scalar().and_then(Value::as_str)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(o) => field(o, key),
            _ => None,
        }
    }

    /// The scalars under `self`, depth first.
    fn leaves<'a>(&'a self, acc: &mut Vec<&'a Value>) {
        match self {
            Json::Scalar(v) => acc.push(v),
            Json::Array(a) => a.iter().for_each(|x| x.leaves(acc)),
            Json::Object(o) => o.iter().for_each(|(_, x)| x.leaves(acc)),
        }
    }

    /// A scalar, or an array of at most `LONG` numbers or nulls (nested or not), to write on one
    /// line.
    fn is_simple(&self) -> bool {
        fn numbers(x: &Json, n: &mut usize) -> bool {
            match x {
                Json::Scalar(v) => {
                    *n += 1;
                    v.is_number() || v.is_null()
                }
                Json::Array(a) => a.iter().all(|x| numbers(x, n)),
                Json::Object(_) => false,
            }
        }
        let mut n = 0;
        matches!(self, Json::Scalar(_)) || (numbers(self, &mut n) && n <= LONG)
    }
}

/// `x` to 4 significant figures: in plain decimals from 0.0001 to 999999, else as `1.234e-5`.
fn sig4(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    // Rust's `{:.3e}` rounds the exact binary value correctly, so the text is stable.
    let sci = format!("{x:.3e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let body = match exp {
        3..=5 => format!("{digits}{}", "0".repeat(exp as usize - 3)),
        0..=2 => {
            let (int, frac) = digits.split_at(exp as usize + 1);
            trim(format!("{int}.{frac}"))
        }
        -4..=-1 => trim(format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))),
        _ => {
            let (int, frac) = digits.split_at(1);
            format!("{}e{exp}", trim(format!("{int}.{frac}")))
        }
    };
    format!("{sign}{body}")
}

/// A scalar, with numbers to 4 significant figures (integers exactly).
fn scalar(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => sig4(n.as_f64().expect("an f64")),
        _ => v.to_string(),
    }
}

/// A value on one line: arrays in full, objects elided.
fn inline(x: &Json) -> String {
    match x {
        Json::Scalar(v) => scalar(v),
        Json::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Object(_) => "{..}".into(),
    }
}

/// The path of a child: `parent.key`.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.into()
    } else {
        format!("{path}.{key}")
    }
}

/// Writes `path: items` in lines of at most `PER_LINE` items, as evenly as that allows.
fn record(out: &mut String, path: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let lines = items.len().div_ceil(PER_LINE);
    for chunk in items.chunks(items.len().div_ceil(lines)) {
        writeln!(out, "{path}: {}", chunk.join(", ")).unwrap();
    }
}

fn walk(x: &Json, path: &str, out: &mut String) {
    match x {
        Json::Scalar(v) => writeln!(out, "{path} = {}", scalar(v)).unwrap(),
        Json::Array(a) => array(a, path, out),
        Json::Object(o) => object(o, &[], path, out),
    }
}

/// The value of `key` in an object's fields.
fn field<'a>(o: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    o.iter().find(|(k, _)| k == key).map(|(_, x)| x)
}

/// Writes an object's fields but those in `hide`.
fn object(o: &[(String, Json)], hide: &[&str], path: &str, out: &mut String) {
    let o: Vec<&(String, Json)> = o
        .iter()
        .filter(|(k, _)| !hide.contains(&k.as_str()))
        .collect();
    let get = |key: &str| o.iter().find(|(k, _)| k == key).map(|(_, x)| x);
    let mut acc = Vec::new();
    o.iter().for_each(|(_, x)| x.leaves(&mut acc));
    if !path.is_empty() && acc.len() > 2 && acc.iter().all(|v| v.as_f64() == Some(0.0)) {
        writeln!(out, "{path} = all 0 ({} numbers)", acc.len()).unwrap();
        return;
    }
    // Confidence intervals, to write after their estimates.
    let mut ci: Vec<(&str, String)> = Vec::new();
    let mut skip: Vec<&str> = Vec::new();
    if let Some(Json::Object(pc)) = get("percentile_ci95")
        && pc.iter().all(|(k, interval)| {
            get(k).and_then(Json::number).is_some() && matches!(interval, Json::Array(_))
        })
    {
        ci.extend(
            pc.iter()
                .map(|(k, interval)| (k.as_str(), inline(interval))),
        );
        skip.push("percentile_ci95");
    }
    if let (Some(_), Some(lo), Some(hi)) = (
        get("mean").and_then(Json::number),
        get("ci95_low").and_then(Json::number),
        get("ci95_high").and_then(Json::number),
    ) {
        ci.push(("mean", format!("[{}, {}]", sig4(lo), sig4(hi))));
        skip.extend(["ci95_low", "ci95_high"]);
    }
    let kept = || o.iter().filter(|(k, _)| !skip.contains(&k.as_str()));
    let items: Vec<String> = kept()
        .filter(|(_, v)| v.is_simple())
        .map(|(k, v)| match ci.iter().find(|(c, _)| c == k) {
            Some((_, interval)) => format!("{k} {} {interval}", inline(v)),
            None => format!("{k} {}", inline(v)),
        })
        .collect();
    if path.is_empty() || items.len() < 3 {
        for (k, v) in kept().filter(|(_, v)| v.is_simple()) {
            writeln!(out, "{} = {}", child(path, k), inline(v)).unwrap();
        }
    } else {
        record(out, path, &items);
    }
    for (k, v) in kept().filter(|(_, v)| !v.is_simple()) {
        walk(v, &child(path, k), out);
    }
}

/// How the elements of an array of objects are named in paths: the fields that name each one
/// uniquely (`id`, `node`, or `from` and `to`), and the names.
fn element_names(a: &[Json]) -> Option<(Vec<&'static str>, Vec<String>)> {
    let text = |x: &Json, k: &str| x.get(k).and_then(Json::text).map(str::to_string);
    let candidates: [(Vec<&'static str>, Option<Vec<String>>); 3] = [
        (vec!["id"], a.iter().map(|x| text(x, "id")).collect()),
        (vec!["node"], a.iter().map(|x| text(x, "node")).collect()),
        (
            vec!["from", "to"],
            a.iter()
                .map(|x| Some(format!("{}->{}", text(x, "from")?, text(x, "to")?)))
                .collect(),
        ),
    ];
    candidates.into_iter().find_map(|(fields, names)| {
        let names = names?;
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        (sorted.len() == names.len()).then_some((fields, names))
    })
}

fn array(a: &[Json], path: &str, out: &mut String) {
    let all_scalar = a.iter().all(|x| matches!(x, Json::Scalar(_)));
    if short_numbers(a) {
        let items: Vec<String> = a.iter().map(inline).collect();
        writeln!(out, "{path} = [{}]", items.join(", ")).unwrap();
    } else if a.iter().all(|x| x.text().is_some()) {
        for (i, x) in a.iter().enumerate() {
            writeln!(out, "{path}[{i}] = {}", inline(x)).unwrap();
        }
    } else if a.iter().all(|x| matches!(x, Json::Object(_))) {
        objects(a, path, out);
    } else {
        // A long array of scalars, or arrays of arrays: summarised.
        let column: Vec<&Json> = a.iter().collect();
        writeln!(out, "{path}[{}] = {}", a.len(), series(&column, all_scalar)).unwrap();
    }
}

/// Whether `a` holds at most `LONG` numbers or nulls, nested or not.
fn short_numbers(a: &[Json]) -> bool {
    let mut acc = Vec::new();
    a.iter().for_each(|x| x.leaves(&mut acc));
    acc.len() <= LONG
        && acc.iter().all(|v| v.is_number() || v.is_null())
        && a.iter().all(|x| !matches!(x, Json::Object(_)))
}

fn objects(a: &[Json], path: &str, out: &mut String) {
    // The fields, in the order they first appear.
    let mut fields: Vec<&str> = Vec::new();
    for x in a {
        if let Json::Object(o) = x {
            for (k, _) in o {
                if !fields.contains(&k.as_str()) {
                    fields.push(k);
                }
            }
        }
    }
    let column = |k: &str| -> Vec<&Json> { a.iter().map(|x| x.get(k).unwrap_or(&NULL)).collect() };
    if a.len() <= LONG {
        let uniform = a.iter().all(|x| match x {
            Json::Object(o) => {
                o.len() == fields.len() && o.iter().all(|(_, v)| matches!(v, Json::Scalar(_)))
            }
            _ => false,
        });
        match element_names(a) {
            Some((key_fields, names)) => {
                for (x, name) in a.iter().zip(names) {
                    if let Json::Object(o) = x {
                        object(o, &key_fields, &child(path, &name), out);
                    }
                }
            }
            None if uniform => {
                let items: Vec<String> = fields
                    .iter()
                    .map(|k| {
                        let row: Vec<String> = column(k).into_iter().map(inline).collect();
                        format!("{k} [{}]", row.join(", "))
                    })
                    .collect();
                record(out, &format!("{path}[]"), &items);
            }
            None => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}[{i}]"), out);
                }
            }
        }
    } else if fields.contains(&"month") {
        // A monthly series: the shape of each field over the months.
        for k in fields {
            let col = column(k);
            let scalars = col.iter().all(|x| matches!(x, Json::Scalar(_)));
            writeln!(out, "{path}[{}].{k} = {}", a.len(), series(&col, scalars)).unwrap();
        }
    } else {
        // A list of things: each numeric field's mean, then the first (the top, where ranked).
        let mut items = Vec::new();
        for k in fields {
            let mut acc = Vec::new();
            column(k).into_iter().for_each(|x| x.leaves(&mut acc));
            let numbers: Vec<f64> = acc.iter().filter_map(|v| v.as_f64()).collect();
            let nulls = acc.iter().filter(|v| v.is_null()).count();
            if numbers.is_empty() {
                if nulls == acc.len() {
                    items.push(format!("{k} null"));
                }
                continue;
            }
            let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
            items.push(match nulls {
                0 => format!("{k} {}", sig4(mean)),
                n => format!("{k} {} ({n} null)", sig4(mean)),
            });
        }
        record(out, &format!("{path}[{}] means", a.len()), &items);
        walk(&a[0], &format!("{path}[0]"), out);
    }
}

/// A summary of a column of values: for strings the first and last; for numbers (in nested
/// arrays too) `all x`, or the first and last (with `ends`, for a column of scalars), min, max
/// and mean; and how many are null.
fn series(column: &[&Json], ends: bool) -> String {
    let texts: Option<Vec<&Json>> = column
        .iter()
        .map(|x| x.text().map(|_| *x))
        .collect::<Option<_>>();
    if let Some(texts) = texts
        && let (Some(first), Some(last)) = (texts.first(), texts.last())
    {
        return format!("{} .. {}", inline(first), inline(last));
    }
    let mut acc = Vec::new();
    column.iter().for_each(|x| x.leaves(&mut acc));
    let numbers: Vec<f64> = acc.iter().filter_map(|v| v.as_f64()).collect();
    let nulls = acc.iter().filter(|v| v.is_null()).count();
    let others = acc.len() - numbers.len() - nulls;
    let mut parts = Vec::new();
    if let (Some(&first), Some(&last)) = (numbers.first(), numbers.last()) {
        if numbers.iter().all(|&x| x == first) {
            parts.push(format!("all {}", sig4(first)));
        } else {
            let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
            let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
            if ends {
                parts.push(format!("first {}, last {}", sig4(first), sig4(last)));
            }
            parts.push(format!(
                "min {}, max {}, mean {}",
                sig4(min),
                sig4(max),
                sig4(mean)
            ));
        }
    }
    if nulls > 0 {
        parts.push(format!("{nulls} null"));
    }
    if others > 0 {
        parts.push(format!("{others} other"));
    }
    parts.join(", ")
}
