//! Changing a scenario by path: `--set PATH=VALUE` for sweeps, and variant files that name a base
//! scenario and the settings that differ from it.
//!
//! A path names one value in the scenario file:
//!
//! | path | addresses |
//! |---|---|
//! | `scenario.KEY` | a key of `[scenario]`, e.g. `scenario.policy` |
//! | `regime.KEY` | a key of `[regime]` |
//! | `node.ID.KEY...` | a key of the node with that id, e.g. `node.us_auto.cover`, `node.us_auto.stockpile.periods` |
//! | `edge.FROM->TO.KEY` | a key of an edge, e.g. `edge.cn_mag->us_auto.share`; where one pair has an edge per material, `edge.FROM->TO:MATERIAL.KEY` |
//! | `outage.ID.KEY...` | an outage by `id` (default `outage:NODE`), e.g. `outage:my_lynas.p_fail` |
//! | `delay.ID.KEY...` | a delay by `id` (default `delay:NODE`) |
//! | `restriction.ID.KEY...`, `tariff.ID.KEY...` | by `id`, e.g. `restriction.cn-controls-episode.when.p_start.tension` |
//!
//! Missing tables along the path are created, so `node.eu_ind.stockpile.periods=3` adds a
//! stockpile. Values are TOML: numbers, strings in quotes, `true`/`false`, inline tables and
//! arrays.

use std::path::Path;

use anyhow::{Context as _, bail};
use toml::{Spanned, Table, Value};

use crate::scenario::error::{Diagnostic, ScenarioError};

/// One `PATH=VALUE` setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// Dotted path.
    pub path: String,
    /// Value to put there.
    pub value: Value,
}

impl Setting {
    /// `PATH=VALUE`, as a `--set` flag gives it.
    pub fn flag(&self) -> String {
        format!("{}={}", self.path, show(&self.value))
    }
}

/// Parses a TOML value written on the command line or in a variant file.
pub fn parse_value(text: &str) -> anyhow::Result<Value> {
    let doc: Table = toml::from_str(&format!("v = {text}")).map_err(|e| {
        anyhow::anyhow!(
            "`{text}` is not a TOML value ({}); quote strings, e.g. \"fixed\"",
            e.message()
        )
    })?;
    doc.get("v").cloned().context("empty value")
}

/// Splits `a,b,{ x = 1, y = 2 }` on the commas outside braces, brackets and quotes.
pub fn split_values(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in text.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('{' | '[', None) => depth += 1,
            ('}' | ']', None) => depth -= 1,
            (',', None) if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A value as written in TOML, for tables and labels.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses `PATH=v1,v2,...` into the path and its values.
pub fn parse_sweep(arg: &str) -> anyhow::Result<(String, Vec<Value>)> {
    let (path, values) = arg.split_once('=').with_context(|| {
        format!("--set `{arg}`: write PATH=VALUE[,VALUE...], e.g. --set node.us_auto.cover=1,2,3")
    })?;
    let values: Vec<Value> = split_values(values)
        .iter()
        .map(|v| parse_value(v).with_context(|| format!("--set {path}")))
        .collect::<anyhow::Result<_>>()?;
    if values.is_empty() {
        bail!("--set {path}: give at least one value");
    }
    Ok((path.trim().to_string(), values))
}

/// The node a setting path addresses: ID for `node.ID.KEY…`, the buyer TO for
/// `edge.FROM->TO.KEY…`; none for the other paths.
pub fn path_node(path: &str) -> Option<&str> {
    let mut parts = path.splitn(3, '.');
    match (parts.next()?, parts.next()?, parts.next()) {
        ("node", id, Some(_)) => Some(id),
        ("edge", e, Some(_)) => e.split_once("->").map(|(_, to)| to),
        _ => None,
    }
}

/// The id of an array entry as paths name it.
fn entry_id(kind: &str, entry: &toml_edit::Table) -> Option<String> {
    let get = |k: &str| {
        entry
            .get(k)
            .and_then(toml_edit::Item::as_str)
            .map(str::to_string)
    };
    match kind {
        "node" | "restriction" | "tariff" => get("id"),
        "edge" => Some(format!("{}->{}", get("from")?, get("to")?)),
        "outage" | "delay" => get("id").or_else(|| Some(format!("{kind}:{}", get("node")?))),
        _ => None,
    }
}

/// A value in toml_edit's form.
fn edit_value(v: &Value) -> anyhow::Result<toml_edit::Value> {
    let doc: toml_edit::DocumentMut = format!("v = {v}").parse()?;
    doc.get("v")
        .and_then(|i| i.as_value())
        .cloned()
        .context("empty value")
}

/// Applies one setting to a scenario document. Only the set value changes: every other line
/// keeps its place, so errors in the result point at the lines of the original file.
pub fn apply(doc: &mut toml_edit::DocumentMut, s: &Setting) -> anyhow::Result<()> {
    let parts: Vec<&str> = s.path.split('.').collect();
    let bad = |why: String| anyhow::anyhow!("{}: {why}", s.path);
    let root = doc.as_table_mut();
    let (table, rest): (&mut dyn toml_edit::TableLike, &[&str]) = match parts.as_slice() {
        [section @ ("scenario" | "regime"), rest @ ..] if !rest.is_empty() => {
            let item = root.entry(section).or_insert(toml_edit::table());
            (
                item.as_table_like_mut()
                    .ok_or_else(|| bad(format!("`{section}` is not a table")))?,
                rest,
            )
        }
        [
            kind @ ("node" | "edge" | "outage" | "delay" | "restriction" | "tariff"),
            id,
            rest @ ..,
        ] if !rest.is_empty() => {
            let arr = root
                .get_mut(kind)
                .and_then(toml_edit::Item::as_array_of_tables_mut)
                .ok_or_else(|| bad(format!("the scenario has no [[{kind}]] tables")))?;
            let known: Vec<String> = arr.iter().filter_map(|t| entry_id(kind, t)).collect();
            // An edge is also named with its material, `from->to:material`.
            let with_material = |t: &toml_edit::Table| {
                let material = t.get("material").and_then(toml_edit::Item::as_str)?;
                Some(format!("{}:{material}", entry_id(kind, t)?))
            };
            let matches = |t: &toml_edit::Table| {
                entry_id(kind, t).as_deref() == Some(*id)
                    || (*kind == "edge" && with_material(t).as_deref() == Some(*id))
            };
            if arr.iter().filter(|t| matches(t)).count() > 1 {
                return Err(bad(format!(
                    "`{id}` names {} {kind}s, one per material: name one as `{id}:MATERIAL`",
                    arr.iter().filter(|t| matches(t)).count()
                )));
            }
            let entry = arr.iter_mut().find(|t| matches(t)).ok_or_else(|| {
                bad(format!(
                    "no {kind} `{id}`; the {kind}s are: {}",
                    known.join(", ")
                ))
            })?;
            (entry, rest)
        }
        _ => {
            return Err(bad(
                "a path starts with scenario., regime., node.ID., edge.FROM->TO., outage.ID., delay.ID., restriction.ID. or tariff.ID. and names a key"
                    .into(),
            ));
        }
    };
    let mut t = table;
    for (i, key) in rest.iter().enumerate() {
        if i + 1 == rest.len() {
            t.insert(key, toml_edit::Item::Value(edit_value(&s.value)?));
            return Ok(());
        }
        if t.get(key).is_none() {
            t.insert(
                key,
                toml_edit::Item::Value(
                    toml_edit::Value::InlineTable(toml_edit::InlineTable::new()),
                ),
            );
        }
        let next = t
            .get_mut(key)
            .ok_or_else(|| bad(format!("cannot create `{key}`")))?;
        t = next
            .as_table_like_mut()
            .ok_or_else(|| bad(format!("`{key}` holds a value, not a table")))?;
    }
    Ok(())
}

/// Where a line of patched scenario text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The base text's line with this 0-based index, unchanged.
    Base(usize),
    /// Written or rewritten by the settings with these indices, in order (several where they
    /// set keys of one inline table).
    Setting(Vec<usize>),
}

/// Where two texts' lines differ: the count of equal leading lines, and the ends of the
/// differing middles in `old` and `new`.
fn changed(old: &[&str], new: &[&str]) -> (usize, usize, usize) {
    let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let most = old.len().min(new.len()) - head;
    let tail = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(most)
        .take_while(|(a, b)| a == b)
        .count();
    (head, old.len() - tail, new.len() - tail)
}

/// Scenario text with settings applied, and where each of its lines came from.
#[derive(Clone, Debug)]
pub struct Patched {
    /// The patched text.
    pub text: String,
    /// Per line of `text`.
    pub origin: Vec<Origin>,
}

/// Why settings do not apply: the scenario text is not TOML, or a setting has no place in it.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct PatchError {
    /// The index of the setting that does not apply, if it is a setting's fault.
    pub setting: Option<usize>,
    /// Why, starting with the setting's path.
    pub error: anyhow::Error,
}

/// Applies `settings` in order to scenario `text`; `name` names it in messages. A setting
/// rewrites the line of the value it sets, or adds lines where it creates a key.
pub fn patch(text: &str, settings: &[Setting], name: &str) -> Result<Patched, PatchError> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| PatchError {
        setting: None,
        error: anyhow::anyhow!("invalid scenario {name}: {e}"),
    })?;
    // toml_edit keeps a document's lines, but for a few layouts (dotted keys of one table
    // split by other keys) it regroups them: each line is matched to its equal in the base.
    let rendered = doc.to_string();
    let base: Vec<&str> = text.lines().collect();
    let lines: Vec<&str> = rendered.lines().collect();
    let (head, base_end, end) = changed(&base, &lines);
    let mut used = vec![false; base_end - head];
    let mut origin: Vec<Origin> = (0..head).map(Origin::Base).collect();
    for (o, line) in lines[head..end].iter().enumerate() {
        let found = (head..base_end).find(|&j| !used[j - head] && base[j] == *line);
        if let Some(j) = found {
            used[j - head] = true;
        }
        origin.push(Origin::Base(
            found.unwrap_or((head + o).min(base.len().saturating_sub(1))),
        ));
    }
    origin.extend((base_end..base.len()).map(Origin::Base));
    let mut out = Patched {
        text: rendered,
        origin,
    };
    for (k, s) in settings.iter().enumerate() {
        apply(&mut doc, s).map_err(|error| PatchError {
            setting: Some(k),
            error,
        })?;
        let next = doc.to_string();
        let (old, new): (Vec<&str>, Vec<&str>) =
            (out.text.lines().collect(), next.lines().collect());
        let (head, old_end, new_end) = changed(&old, &new);
        let written: Vec<Origin> = if old_end - head == new_end - head {
            // Lines rewritten in place: an earlier setting's writes on them are kept.
            out.origin[head..old_end]
                .iter()
                .map(|o| match o {
                    Origin::Setting(v) => Origin::Setting([&v[..], &[k]].concat()),
                    Origin::Base(_) => Origin::Setting(vec![k]),
                })
                .collect()
        } else {
            vec![Origin::Setting(vec![k]); new_end - head]
        };
        out.origin.splice(head..old_end, written);
        out.text = next;
    }
    Ok(out)
}

/// Scenario text with settings given as `--set` flags applied (see [`patch`]).
pub fn apply_all(text: &str, settings: &[Setting], name: &str) -> anyhow::Result<String> {
    Ok(patch(text, settings, name).map_err(flag_error)?.text)
}

/// A patch error of `--set` flags, naming the flag.
pub fn flag_error(e: PatchError) -> anyhow::Error {
    match e.setting {
        Some(_) => anyhow::anyhow!("--set {:#}", e.error),
        None => e.error,
    }
}

impl Patched {
    /// `d`, an error at a line of this text, moved to where that line came from: a line of the
    /// text the settings were applied to goes to `at_base(d, index)` (0-based); a line settings
    /// wrote goes to `at_setting(settings, message)`, the message saying what the line became.
    /// An error without a line is returned as it is.
    pub fn place(
        &self,
        d: Diagnostic,
        at_base: impl FnOnce(Diagnostic, usize) -> Diagnostic,
        at_setting: impl FnOnce(&[usize], String) -> Diagnostic,
    ) -> Diagnostic {
        let Some((line, _, src, _)) = &d.at else {
            return d;
        };
        match self.origin.get(line.saturating_sub(1)).cloned() {
            Some(Origin::Setting(ks)) => {
                let message = format!(
                    "{}\n(with {} the scenario's line reads `{}`)",
                    d.message,
                    if ks.len() > 1 {
                        "these settings"
                    } else {
                        "this setting"
                    },
                    src.trim()
                );
                at_setting(&ks, message)
            }
            Some(Origin::Base(i)) => at_base(d, i),
            None => d,
        }
    }
}

/// A scenario error as a diagnostic at its place in `text`, named `path`; an error that is not
/// about the text (one reading a file, say) is returned as it is.
pub fn diagnostic(e: ScenarioError, text: &str, path: &str) -> Result<Diagnostic, ScenarioError> {
    match e {
        ScenarioError::Parse { error, .. } => Ok(Diagnostic::new(
            path,
            text,
            error.span(),
            error.message().trim_end(),
            crate::scenario::error::PARSE_HELP,
        )),
        ScenarioError::Invalid(d) => Ok(*d),
        other => Err(other),
    }
}

/// `d` moved to the line with 0-based index `i` of the file named `path` (same column and
/// text, which a patch leaves unchanged on the lines it does not write).
pub fn at_line(d: Diagnostic, path: &str, i: usize) -> Diagnostic {
    Diagnostic {
        path: path.to_string(),
        at: d.at.map(|(_, col, src, width)| (i + 1, col, src, width)),
        ..d
    }
}

/// An error from compiling a sweep's point: scenario `name` (the variant `variant` where it is
/// one) patched into `p` by `settings`, given as `--set` flags, which `point` lists (" with --set
/// ..."). A line a flag wrote is reported at the flag; another line at its own line of the
/// scenario file, or of the variant's base, or at the variant's setting that wrote it.
pub fn sweep_error(
    e: ScenarioError,
    p: &Patched,
    settings: &[Setting],
    name: &str,
    point: &str,
    variant: Option<(&Resolved, &Path)>,
) -> ScenarioError {
    let shown = format!("{name}{point}");
    let d = match diagnostic(e, &p.text, &shown) {
        Ok(d) => d,
        Err(other) => return other,
    };
    let at_base = |d, i| match variant {
        Some((v, path)) => {
            let d = v.place(at_line(d, &v.base_name(path), i), path);
            Diagnostic {
                path: format!("{}{point}", d.path),
                ..d
            }
        }
        None => at_line(d, &shown, i),
    };
    let at_setting = |ks: &[usize], message| {
        let flags: Vec<String> = ks
            .iter()
            .map(|&k| format!("--set {}", settings[k].flag()))
            .collect();
        let paths: Vec<&str> = ks.iter().map(|&k| settings[k].path.as_str()).collect();
        Diagnostic {
            path: format!("{name} with {}", flags.join(" ")),
            at: None,
            message,
            help: format!(
                "give {} a value that fits; scenarios/README.md documents every key",
                paths.join(" and ")
            ),
        }
    };
    ScenarioError::Invalid(Box::new(p.place(d, at_base, at_setting)))
}

/// What a variant file holds, for messages.
const VARIANT_HELP: &str = "a variant file has a [variant] table with `base` (the scenario file it changes, relative to the variant file), `name`, an optional `description`, and a [variant.set] table of \"PATH\" = VALUE settings; see scenarios/README.md";

/// The `[variant]` table of a variant file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantFile {
    variant: Variant,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Variant {
    /// Base scenario, relative to the variant file.
    base: Spanned<String>,
    /// Name of the variant.
    name: Spanned<String>,
    /// What question it answers.
    description: Option<Spanned<String>>,
    /// Path = value settings.
    #[serde(default)]
    set: std::collections::BTreeMap<String, Spanned<Value>>,
}

/// A variant file resolved into scenario text.
#[derive(Debug)]
pub struct Resolved {
    /// The base scenario's text with the variant's settings applied.
    pub patched: Patched,
    /// The base scenario's path.
    pub base: std::path::PathBuf,
    /// The variant file's text.
    text: String,
    /// The settings applied to the base.
    settings: Vec<Setting>,
    /// Per setting, the span in the variant file of the value it comes from.
    spans: Vec<std::ops::Range<usize>>,
}

impl Resolved {
    /// How messages name the base scenario; `path` is the variant file.
    pub fn base_name(&self, path: &Path) -> String {
        format!(
            "{} (the base of variant {})",
            self.base.display(),
            path.display()
        )
    }

    /// `d`, an error at a line of the patched text, moved to where that line came from: its
    /// own line of the base file, or the variant's setting that wrote it; `path` is the variant
    /// file.
    pub fn place(&self, d: Diagnostic, path: &Path) -> Diagnostic {
        let name = self.base_name(path);
        self.patched.place(
            d,
            |d, i| {
                // A line the variant did not write can still fail through its settings (a share
                // changed on another edge into the node, say): name them.
                let set: Vec<String> = self
                    .settings
                    .iter()
                    .zip(&self.spans)
                    .map(|(s, span)| {
                        format!(
                            "`{}` (line {})",
                            s.path,
                            crate::scenario::error::line_of(&self.text, span.start)
                        )
                    })
                    .collect();
                let d = Diagnostic {
                    message: format!(
                        "{}\n(variant {} sets {})",
                        d.message,
                        path.display(),
                        set.join(", ")
                    ),
                    ..d
                };
                at_line(d, &name, i)
            },
            |ks, message| {
                let message = if ks.len() > 1 {
                    let lines: Vec<String> = ks
                        .iter()
                        .filter_map(|&k| self.spans.get(k))
                        .map(|s| crate::scenario::error::line_of(&self.text, s.start).to_string())
                        .collect();
                    format!(
                        "{message}\n(the settings at lines {} of the variant all wrote it)",
                        lines.join(", ")
                    )
                } else {
                    message
                };
                Diagnostic::new(
                    &path.display().to_string(),
                    &self.text,
                    ks.last().and_then(|k| self.spans.get(*k)).cloned(),
                    message,
                    "fix this setting of the variant; scenarios/README.md documents every key",
                )
            },
        )
    }
}

/// If `text` is a variant file (a `[variant]` table naming a base scenario and settings), returns
/// the scenario it stands for; otherwise returns `None`.
/// `read` reads the base file (the variant names it relative to `path`).
pub fn resolve(
    text: &str,
    path: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> anyhow::Result<Option<Resolved>> {
    let Ok(doc) = toml::from_str::<Table>(text) else {
        return Ok(None);
    };
    if !doc.contains_key("variant") {
        return Ok(None);
    }
    let shown = path.display();
    let v: VariantFile = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("invalid variant {shown}: {e}help: {VARIANT_HELP}"))?;
    let base = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(v.variant.base.get_ref());
    let base_text = read(&base).map_err(|e| {
        anyhow::Error::new(Diagnostic::new(
            &shown.to_string(),
            text,
            Some(v.variant.base.span()),
            format!(
                "cannot read the base scenario {}: {e}",
                base.display()
            ),
            "`base` names the scenario file this variant changes, relative to the variant file's folder, e.g. base = \"../rare-earths-2026.toml\"",
        ))
    })?;
    anyhow::ensure!(
        toml::from_str::<Table>(&base_text).map_or(true, |d| !d.contains_key("variant")),
        "variant {shown}: its base {} is a variant too; `base` must name a scenario file (one with a [scenario] table)",
        base.display()
    );
    let (mut settings, mut spans) = (Vec::new(), Vec::new());
    let mut push = |path: &str, value: Spanned<Value>| {
        spans.push(value.span());
        settings.push(Setting {
            path: path.to_string(),
            value: value.into_inner(),
        });
    };
    let at = |span: std::ops::Range<usize>, why: String, help: &str| {
        anyhow::Error::new(Diagnostic::new(
            &shown.to_string(),
            text,
            Some(span),
            why,
            help,
        ))
    };
    // In the file's order, as later settings may refine earlier ones.
    let mut set: Vec<_> = v.variant.set.into_iter().collect();
    set.sort_by_key(|(_, value)| value.span().start);
    for (path, value) in set {
        if !path.contains('.') && value.get_ref().is_table() {
            // The first setting the nested tables hold, as it was meant.
            let (mut whole, mut leaf) = (path.clone(), value.get_ref());
            while let Some((k, v)) = leaf.as_table().and_then(|t| t.iter().next()) {
                whole = format!("{whole}.{k}");
                leaf = v;
            }
            return Err(at(
                value.span(),
                format!("`{path}` is a table of settings, not a setting: its dots are not quoted"),
                &format!(
                    "quote each path whole, e.g. \"{whole}\" = {leaf}; unquoted dots make nested TOML tables"
                ),
            ));
        }
        if path == "scenario.name" {
            return Err(at(
                value.span(),
                "`scenario.name` is the variant's `name`".into(),
                "give the variant's name with `name` in [variant]",
            ));
        }
        push(&path, value);
    }
    let name = v.variant.name;
    push(
        "scenario.name",
        Spanned::new(name.span(), Value::String(name.into_inner())),
    );
    if let Some(d) = v.variant.description.filter(|d| !d.get_ref().is_empty()) {
        push(
            "scenario.description",
            Spanned::new(d.span(), Value::String(d.into_inner())),
        );
    }
    let patched = patch(&base_text, &settings, &base.display().to_string()).map_err(|e| match e
        .setting
        .and_then(|k| spans.get(k))
    {
        Some(span) => at(
            span.clone(),
            format!("{:#}", e.error),
            "fix this setting's path; scenarios/README.md lists the paths",
        ),
        None => e.error.context(format!("variant {shown}")),
    })?;
    Ok(Some(Resolved {
        patched,
        base,
        text: text.to_string(),
        settings,
        spans,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_values_outside_brackets() {
        assert_eq!(split_values("1,2, 3"), vec!["1", "2", "3"]);
        assert_eq!(
            split_values("{ dist = \"uniform\", low = 1, high = 2 },4"),
            vec!["{ dist = \"uniform\", low = 1, high = 2 }", "4"]
        );
        assert_eq!(split_values("\"a,b\",[1, 2]"), vec!["\"a,b\"", "[1, 2]"]);
    }

    #[test]
    fn an_edge_per_material_is_named_with_its_material() {
        let text = "[[edge]]\nfrom = \"a\"\nto = \"b\"\nmaterial = \"x\"\n\n[[edge]]\nfrom = \"a\"\nto = \"b\"\nmaterial = \"y\"\n";
        let set = |p: &str| Setting {
            path: p.into(),
            value: parse_value("0.5").unwrap(),
        };
        let out = apply_all(text, &[set("edge.a->b:y.share")], "--set").unwrap();
        assert!(out.contains("material = \"y\"\nshare = 0.5"), "{out}");
        let err = apply_all(text, &[set("edge.a->b.share")], "--set").unwrap_err();
        assert!(
            err.to_string().contains("names 2 edges, one per material"),
            "{err}"
        );
    }

    #[test]
    fn sets_values_by_path() {
        let text = "[scenario]\nname = \"x\"\n\n[[node]]\nid = \"a\"\ncapacity = 1\n\n[[edge]]\nfrom = \"a\"\nto = \"b\"\n\n[[outage]]\nnode = \"a\"\np_fail = 0.1\n";
        let set = |p: &str, v: &str| Setting {
            path: p.into(),
            value: parse_value(v).unwrap(),
        };
        let out = apply_all(
            text,
            &[
                set("node.a.capacity", "5"),
                set("node.a.stockpile.periods", "3"),
                set("edge.a->b.share", "0.5"),
                set("outage:a.p_fail", "0.2"),
                set("scenario.policy", "\"flexible\""),
            ]
            .into_iter()
            .filter(|s| !s.path.starts_with("outage:"))
            .chain([set("outage.outage:a.p_fail", "0.2")])
            .collect::<Vec<_>>(),
            "t",
        )
        .unwrap();
        let doc: Table = toml::from_str(&out).unwrap();
        // Lines keep their places: the capacity is still the line after the node's id.
        let lines: Vec<&str> = out.lines().collect();
        let id = lines.iter().position(|l| *l == "id = \"a\"").unwrap();
        assert_eq!(lines[id + 1], "capacity = 5");
        assert_eq!(doc["node"][0]["capacity"].as_integer(), Some(5));
        assert_eq!(doc["node"][0]["stockpile"]["periods"].as_integer(), Some(3));
        assert_eq!(doc["edge"][0]["share"].as_float(), Some(0.5));
        assert_eq!(doc["outage"][0]["p_fail"].as_float(), Some(0.2));
        assert_eq!(doc["scenario"]["policy"].as_str(), Some("flexible"));
        let err = apply_all(text, &[set("node.zz.capacity", "1")], "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no node `zz`") && err.contains("the nodes are: a"),
            "{err}"
        );
        assert_eq!(path_node("node.a.capacity"), Some("a"));
        assert_eq!(path_node("edge.m->d.share"), Some("d"));
        assert_eq!(path_node("outage.outage:a.p_fail"), None);
        assert_eq!(path_node("node.a"), None);
        assert!(parse_sweep("node.a.capacity").is_err());
        assert_eq!(parse_sweep("node.a.capacity=1,2").unwrap().1.len(), 2);
    }

    #[test]
    fn patch_tracks_where_each_line_came_from() {
        let text = "[scenario]\nname = \"x\"\n\n[[node]]\nid = \"a\"\ncapacity = 1\n\n[[node]]\nid = \"b\"\n";
        let set = |p: &str, v: &str| Setting {
            path: p.into(),
            value: parse_value(v).unwrap(),
        };
        let p = patch(
            text,
            &[set("node.a.capacity", "5"), set("node.a.cover", "2")],
            "t",
        )
        .unwrap();
        let lines: Vec<&str> = p.text.lines().collect();
        assert_eq!(lines.len(), p.origin.len());
        let at = |l: &str| p.origin[lines.iter().position(|x| *x == l).unwrap()].clone();
        assert_eq!(at("capacity = 5"), Origin::Setting(vec![0]));
        assert_eq!(at("cover = 2"), Origin::Setting(vec![1]));
        // The lines after the added one keep their numbers in the base.
        assert_eq!(at("id = \"b\""), Origin::Base(8));
        assert_eq!(at("id = \"a\""), Origin::Base(4));
        // The shipped scenario's text comes through unchanged with no settings.
        let shipped = crate::DEFAULT_SCENARIO;
        let p = patch(shipped, &[], "default").unwrap();
        assert_eq!(p.text, shipped);
        assert!(
            p.origin
                .iter()
                .enumerate()
                .all(|(i, o)| *o == Origin::Base(i))
        );
        // Two settings of one inline table: the line is both's.
        let p = patch(
            "[[node]]\nid = \"a\"\ns = { x = 1, y = 2 }\n",
            &[set("node.a.s.x", "3"), set("node.a.s.y", "4")],
            "t",
        )
        .unwrap();
        assert_eq!(p.origin[2], Origin::Setting(vec![0, 1]));
        // Dotted keys split by another key are regrouped when written: each line keeps its
        // number in the base.
        let text = "[[r]]\nw.a = 1\nk = 2\nw.b = 3\nz = 4\n";
        let p = patch(text, &[], "t").unwrap();
        assert_ne!(p.text, text, "the layout is no longer regrouped");
        let base: Vec<&str> = text.lines().collect();
        for (line, o) in p.text.lines().zip(&p.origin) {
            match o {
                Origin::Base(i) => assert_eq!(base[*i], line, "{}", p.text),
                other => panic!("{other:?}"),
            }
        }
    }
}
