//! From a YAML tree to a *layer*: the keys one file sets, each with where it
//! was set, and every problem the file has.
//!
//! The walk never stops at a problem: each key is checked on its own, a bad
//! value only leaves that key unset, and the caller gets the whole list. A
//! layer keeps `Option`s rather than values so that layering can tell "the
//! repository set this" from "the default", which is what makes the org file
//! a real set of defaults instead of a second file that replaces the first.

use std::time::Duration;

use super::{
    AgentsConfig, AlwaysAuthors, ConfigProblem, ConfigSource, ConflictMarkersConfig,
    MAX_INDEPENDENT_APPROVALS, MAX_LABEL_CHARS, MAX_MERGE_ATTEMPTS, MAX_REGISTER_TIMEOUT,
    MergeConfig, MergeMethod, MergeMode, MergeSourcesConfig, Mode, OnInternalError, RepoConfig,
    RequiredChecksConfig, compile_glob,
};
use crate::config::yaml::{self, Kind, Node, Pos, Value};

/// The top-level keys, in the order the reference documents them.
const TOP_LEVEL: &[&str] = &[
    "conflict_markers",
    "merge_sources",
    "merge",
    "required_checks",
    "agents",
    "on_internal_error",
    "mode",
];

/// The keys of each section.
const SECTIONS: &[(&str, &[&str])] = &[
    ("conflict_markers", &["enabled", "ignore"]),
    (
        "merge_sources",
        &["enabled", "allowed", "max_commits", "long_lived"],
    ),
    (
        "merge",
        &[
            "mode",
            "label",
            "method",
            "max_attempts",
            "update_branch",
            "priority_label",
            "always_authors",
        ],
    ),
    ("required_checks", &["extra", "register_timeout"]),
    ("agents", &["independent_approvals", "accounts"]),
];

const MERGE_MODES: &[(&str, MergeMode)] = &[
    ("label", MergeMode::Label),
    ("always", MergeMode::Always),
    ("never", MergeMode::Never),
];

const ALWAYS_AUTHORS: &[(&str, AlwaysAuthors)] = &[
    ("writers", AlwaysAuthors::Writers),
    ("anyone", AlwaysAuthors::Anyone),
];

const MERGE_METHODS: &[(&str, MergeMethod)] = &[
    ("merge", MergeMethod::Merge),
    ("squash", MergeMethod::Squash),
    ("rebase", MergeMethod::Rebase),
];

const ON_INTERNAL_ERROR: &[(&str, OnInternalError)] = &[
    ("neutral", OnInternalError::Neutral),
    ("failure", OnInternalError::Failure),
];

const MODES: &[(&str, Mode)] = &[("enforce", Mode::Enforce), ("shadow", Mode::Shadow)];

/// How durations are written in the messages that ask for one.
const DURATION_EXAMPLES: &str = "`30m`, `1h30m` or `90s`";

/// Where a value was set: which file, which line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin {
    source: ConfigSource,
    pos: Pos,
}

impl Origin {
    fn problem(self, message: String) -> ConfigProblem {
        ConfigProblem {
            source: self.source,
            line: self.pos.line,
            column: self.pos.column,
            message,
        }
    }
}

/// A value one file sets, and where.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Set<T> {
    value: T,
    at: Origin,
}

/// The keys one file sets; `None` = not set there.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Layer {
    markers_enabled: Option<Set<bool>>,
    markers_ignore: Option<Set<Vec<String>>>,
    sources_enabled: Option<Set<bool>>,
    sources_allowed: Option<Set<Vec<String>>>,
    /// `Some(None)`: explicitly no limit (`max_commits: null`).
    sources_max_commits: Option<Set<Option<u64>>>,
    sources_long_lived: Option<Set<Vec<String>>>,
    merge_mode: Option<Set<MergeMode>>,
    merge_label: Option<Set<String>>,
    merge_method: Option<Set<MergeMethod>>,
    merge_max_attempts: Option<Set<u32>>,
    merge_update_branch: Option<Set<bool>>,
    /// `Some(None)`: explicitly no priority label (`priority_label: null`).
    merge_priority_label: Option<Set<Option<String>>>,
    merge_always_authors: Option<Set<AlwaysAuthors>>,
    checks_extra: Option<Set<Vec<String>>>,
    checks_register_timeout: Option<Set<Duration>>,
    agents_approvals: Option<Set<u32>>,
    agents_accounts: Option<Set<Vec<String>>>,
    on_internal_error: Option<Set<OnInternalError>>,
    mode: Option<Set<Mode>>,
}

impl Layer {
    /// This layer over `under`, key by key: what this one sets wins, lists
    /// included (a list replaces, it does not extend).
    pub(super) fn over(self, under: Layer) -> Layer {
        Layer {
            markers_enabled: self.markers_enabled.or(under.markers_enabled),
            markers_ignore: self.markers_ignore.or(under.markers_ignore),
            sources_enabled: self.sources_enabled.or(under.sources_enabled),
            sources_allowed: self.sources_allowed.or(under.sources_allowed),
            sources_max_commits: self.sources_max_commits.or(under.sources_max_commits),
            sources_long_lived: self.sources_long_lived.or(under.sources_long_lived),
            merge_mode: self.merge_mode.or(under.merge_mode),
            merge_label: self.merge_label.or(under.merge_label),
            merge_method: self.merge_method.or(under.merge_method),
            merge_max_attempts: self.merge_max_attempts.or(under.merge_max_attempts),
            merge_update_branch: self.merge_update_branch.or(under.merge_update_branch),
            merge_priority_label: self.merge_priority_label.or(under.merge_priority_label),
            merge_always_authors: self.merge_always_authors.or(under.merge_always_authors),
            checks_extra: self.checks_extra.or(under.checks_extra),
            checks_register_timeout: self
                .checks_register_timeout
                .or(under.checks_register_timeout),
            agents_approvals: self.agents_approvals.or(under.agents_approvals),
            agents_accounts: self.agents_accounts.or(under.agents_accounts),
            on_internal_error: self.on_internal_error.or(under.on_internal_error),
            mode: self.mode.or(under.mode),
        }
    }

    /// Fills what no file set with the defaults, then checks the rules that
    /// span keys.
    pub(super) fn finish(self) -> Result<RepoConfig, Vec<ConfigProblem>> {
        fn or<T>(set: Option<Set<T>>, default: T) -> T {
            set.map_or(default, |s| s.value)
        }
        let d = RepoConfig::default();
        let label_at = self.merge_label.as_ref().map(|s| s.at);
        let config = RepoConfig {
            conflict_markers: ConflictMarkersConfig {
                enabled: or(self.markers_enabled, d.conflict_markers.enabled),
                ignore: or(self.markers_ignore, d.conflict_markers.ignore),
            },
            merge_sources: MergeSourcesConfig {
                enabled: or(self.sources_enabled, d.merge_sources.enabled),
                allowed: or(self.sources_allowed, d.merge_sources.allowed),
                max_commits: or(self.sources_max_commits, d.merge_sources.max_commits),
                long_lived: or(self.sources_long_lived, d.merge_sources.long_lived),
            },
            merge: MergeConfig {
                mode: or(self.merge_mode, d.merge.mode),
                label: or(self.merge_label, d.merge.label),
                method: or(self.merge_method, d.merge.method),
                max_attempts: or(self.merge_max_attempts, d.merge.max_attempts),
                update_branch: or(self.merge_update_branch, d.merge.update_branch),
                priority_label: or(self.merge_priority_label, d.merge.priority_label),
                always_authors: or(self.merge_always_authors, d.merge.always_authors),
            },
            required_checks: RequiredChecksConfig {
                extra: or(self.checks_extra, d.required_checks.extra),
                register_timeout: or(
                    self.checks_register_timeout,
                    d.required_checks.register_timeout,
                ),
            },
            agents: AgentsConfig {
                independent_approvals: or(self.agents_approvals, d.agents.independent_approvals),
                accounts: or(self.agents_accounts, d.agents.accounts),
            },
            on_internal_error: or(self.on_internal_error, d.on_internal_error),
            notes: Vec::new(),
            mode: or(self.mode, d.mode),
        };
        // The default label is not empty, so an empty one was set somewhere.
        if let (MergeMode::Label, true, Some(at)) = (
            config.merge.mode,
            config.merge.label.trim().is_empty(),
            label_at,
        ) {
            return Err(vec![
                at.problem(
                    "`merge.label` is empty, but `merge.mode` is `label`: name the label that \
                 opts a pull request in"
                        .to_owned(),
                ),
            ]);
        }
        Ok(config)
    }
}

/// Reads one file into a layer, or every problem it has, in file order.
pub(super) fn read(text: &str, source: ConfigSource) -> Result<Layer, Vec<ConfigProblem>> {
    let at = |pos| Origin { source, pos };
    let mut reader = Reader {
        source,
        problems: Vec::new(),
    };
    let root = match yaml::load(text) {
        Ok(loaded) => {
            reader.problems.extend(
                loaded
                    .problems
                    .into_iter()
                    .map(|p| at(p.pos).problem(p.message)),
            );
            loaded.root
        }
        Err(problems) => {
            return Err(problems
                .into_iter()
                .map(|p| at(p.pos).problem(p.message))
                .collect());
        }
    };
    let mut layer = Layer::default();
    match root {
        None => {}
        Some(root) if root.is_null() => {}
        Some(root) => reader.top_level(&root, &mut layer),
    }
    if reader.problems.is_empty() {
        Ok(layer)
    } else {
        reader.problems.sort_by_key(|p| (p.line, p.column));
        Err(reader.problems)
    }
}

struct Reader {
    source: ConfigSource,
    problems: Vec<ConfigProblem>,
}

impl Reader {
    fn at(&self, node: &Node) -> Origin {
        Origin {
            source: self.source,
            pos: node.pos,
        }
    }

    fn problem(&mut self, node: &Node, message: String) {
        let problem = self.at(node).problem(message);
        self.problems.push(problem);
    }

    fn set<T>(&self, node: &Node, value: Option<T>) -> Option<Set<T>> {
        value.map(|value| Set {
            value,
            at: self.at(node),
        })
    }

    fn top_level(&mut self, root: &Node, layer: &mut Layer) {
        let Kind::Map(entries) = &root.kind else {
            let found = root.describe();
            self.problem(
                root,
                format!("the file must be a mapping of keys such as `merge:`, found {found}"),
            );
            return;
        };
        for (key, value) in self.known_entries(entries, None, TOP_LEVEL) {
            match key {
                "on_internal_error" => {
                    let choice = self.choice("on_internal_error", value, ON_INTERNAL_ERROR);
                    layer.on_internal_error = self.set(value, choice);
                }
                "mode" => {
                    let choice = self.choice("mode", value, MODES);
                    layer.mode = self.set(value, choice);
                }
                section => {
                    let keys = section_keys(section);
                    let Some(entries) = self.section(section, value, keys) else {
                        continue;
                    };
                    for (key, value) in self.known_entries(entries, Some(section), keys) {
                        self.leaf(section, key, value, layer);
                    }
                }
            }
        }
    }

    fn leaf(&mut self, section: &str, key: &str, value: &Node, layer: &mut Layer) {
        let path = format!("{section}.{key}");
        let path = path.as_str();
        match (section, key) {
            ("conflict_markers", "enabled") => {
                let v = self.boolean(path, value);
                layer.markers_enabled = self.set(value, v);
            }
            ("conflict_markers", "ignore") => {
                let v = self.list(path, value, Item::Glob);
                layer.markers_ignore = self.set(value, v);
            }
            ("merge_sources", "enabled") => {
                let v = self.boolean(path, value);
                layer.sources_enabled = self.set(value, v);
            }
            ("merge_sources", "allowed") => {
                let v = self.list(path, value, Item::Glob);
                layer.sources_allowed = self.set(value, v);
            }
            ("merge_sources", "max_commits") => {
                let v = if value.is_null() {
                    Some(None)
                } else {
                    self.count(path, value, 1, u64::MAX, ", or null for no limit")
                        .map(Some)
                };
                layer.sources_max_commits = self.set(value, v);
            }
            ("merge_sources", "long_lived") => {
                let v = self.list(path, value, Item::Glob);
                layer.sources_long_lived = self.set(value, v);
            }
            ("merge", "mode") => {
                let v = self.choice(path, value, MERGE_MODES);
                layer.merge_mode = self.set(value, v);
            }
            ("merge", "label") => {
                let v = self.label(path, value);
                layer.merge_label = self.set(value, v);
            }
            ("merge", "method") => {
                let v = self.choice(path, value, MERGE_METHODS);
                layer.merge_method = self.set(value, v);
            }
            ("merge", "max_attempts") => {
                let v = self
                    .count(path, value, 1, MAX_MERGE_ATTEMPTS.into(), "")
                    .and_then(|n| u32::try_from(n).ok());
                layer.merge_max_attempts = self.set(value, v);
            }
            ("merge", "update_branch") => {
                let v = self.boolean(path, value);
                layer.merge_update_branch = self.set(value, v);
            }
            ("merge", "always_authors") => {
                let v = self.choice(path, value, ALWAYS_AUTHORS);
                layer.merge_always_authors = self.set(value, v);
            }
            ("merge", "priority_label") => {
                let v = if value.is_null() {
                    Some(None)
                } else {
                    match self.label(path, value) {
                        Some(l) if l.trim().is_empty() => {
                            self.problem(
                                value,
                                format!("`{path}` is blank; name a label, or null for none"),
                            );
                            None
                        }
                        l => l.map(Some),
                    }
                };
                layer.merge_priority_label = self.set(value, v);
            }
            ("required_checks", "extra") => {
                let v = self.list(path, value, Item::CheckName);
                layer.checks_extra = self.set(value, v);
            }
            ("required_checks", "register_timeout") => {
                let v = self.duration(path, value);
                layer.checks_register_timeout = self.set(value, v);
            }
            ("agents", "independent_approvals") => {
                let v = self
                    .count(
                        path,
                        value,
                        0,
                        MAX_INDEPENDENT_APPROVALS.into(),
                        " (0 turns the guard off)",
                    )
                    .and_then(|n| u32::try_from(n).ok());
                layer.agents_approvals = self.set(value, v);
            }
            ("agents", "accounts") => {
                let v = self.list(path, value, Item::Account);
                layer.agents_accounts = self.set(value, v);
            }
            _ => unreachable!("`{section}.{key}` is listed in SECTIONS but not read"),
        }
    }

    /// The entries of a mapping whose keys are known, first occurrence only;
    /// reports keys that are not names, duplicates and unknown keys.
    fn known_entries<'n>(
        &mut self,
        entries: &'n [(Node, Node)],
        section: Option<&str>,
        known: &[&'static str],
    ) -> Vec<(&'static str, &'n Node)> {
        let mut seen: Vec<(&str, usize)> = Vec::new();
        let mut out = Vec::new();
        for (key, value) in entries {
            let Some(name) = key_name(key) else {
                let found = key.describe();
                self.problem(key, format!("a key must be a name, found {found}"));
                continue;
            };
            if let Some(&(_, line)) = seen.iter().find(|(seen, _)| *seen == name) {
                self.problem(
                    key,
                    format!("duplicate key `{name}` (first set on line {line})"),
                );
                continue;
            }
            seen.push((name, key.pos.line));
            match known.iter().find(|k| **k == name) {
                Some(&known_name) => out.push((known_name, value)),
                None => {
                    let message = unknown_key(name, section, known);
                    self.problem(key, message);
                }
            }
        }
        out
    }

    /// A section's entries; a null section (`merge:` with nothing under it)
    /// sets nothing.
    fn section<'n>(
        &mut self,
        section: &str,
        node: &'n Node,
        keys: &[&str],
    ) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ if node.is_null() => None,
            _ => {
                let found = node.describe();
                let keys = backticked(keys);
                self.problem(
                    node,
                    format!("`{section}` must be a mapping with keys {keys}, found {found}"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, path: &str, node: &Node) -> Option<bool> {
        match node.scalar().map(yaml::Scalar::value) {
            Some(Value::Bool(b)) => Some(b),
            _ => {
                let found = node.describe();
                self.problem(
                    node,
                    format!("`{path}` must be `true` or `false`, found {found}"),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, path: &str, node: &Node, choices: &[(&str, T)]) -> Option<T> {
        let text = match node.scalar().map(yaml::Scalar::value) {
            Some(Value::Str(text)) => text,
            _ => "",
        };
        if let Some(&(_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(value);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let mut message = format!(
            "`{path}` must be one of {}, found {}",
            backticked(&names),
            node.describe()
        );
        if let Some(close) = closest(text, &names) {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        self.problem(node, message);
        None
    }

    /// A whole number in `min..=max`; `alternative` extends the message.
    fn count(
        &mut self,
        path: &str,
        node: &Node,
        min: u64,
        max: u64,
        alternative: &str,
    ) -> Option<u64> {
        if let Some(Value::Int(Some(n))) = node.scalar().map(yaml::Scalar::value)
            && let Ok(n) = u64::try_from(n)
            && (min..=max).contains(&n)
        {
            return Some(n);
        }
        let range = if max == u64::MAX {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        let found = node.describe();
        self.problem(
            node,
            format!("`{path}` must be {range}{alternative}, found {found}"),
        );
        None
    }

    fn label(&mut self, path: &str, node: &Node) -> Option<String> {
        let label = self.string(&format!("`{path}`"), node, "a label name")?;
        if label.chars().count() > MAX_LABEL_CHARS {
            self.problem(
                node,
                format!(
                    "`{path}` is longer than {MAX_LABEL_CHARS} characters, GitHub's limit \
                     for a label name"
                ),
            );
            return None;
        }
        Some(label.to_owned())
    }

    /// A string scalar; `subject` names what must be one, e.g. "`merge.label`".
    fn string<'n>(&mut self, subject: &str, node: &'n Node, what: &str) -> Option<&'n str> {
        match node.scalar().map(yaml::Scalar::value) {
            Some(Value::Str(text)) => Some(text),
            other => {
                let found = node.describe();
                let hint = if matches!(
                    other,
                    Some(Value::Bool(_) | Value::Int(_) | Value::Float(_))
                ) {
                    "; quote it to use it as text"
                } else {
                    ""
                };
                self.problem(
                    node,
                    format!("{subject} must be {what}, found {found}{hint}"),
                );
                None
            }
        }
    }

    fn list(&mut self, path: &str, node: &Node, item: Item) -> Option<Vec<String>> {
        let Kind::Seq(items) = &node.kind else {
            let found = node.describe();
            let hint = match node.scalar().map(yaml::Scalar::value) {
                Some(Value::Str(text)) => format!("; write it as a list: [\"{text}\"]"),
                Some(Value::Null) => "; write [] for an empty list".to_owned(),
                _ => String::new(),
            };
            self.problem(
                node,
                format!(
                    "`{path}` must be a list of {}, found {found}{hint}",
                    item.plural()
                ),
            );
            return None;
        };
        let before = self.problems.len();
        let mut out = Vec::with_capacity(items.len());
        for node in items {
            let Some(text) = self.string(&format!("each item of `{path}`"), node, item.singular())
            else {
                continue;
            };
            if text.trim().is_empty() {
                self.problem(
                    node,
                    format!("`{path}` holds an empty {}", item.singular_bare()),
                );
                continue;
            }
            if let Item::Account = item
                && text.trim().contains(char::is_whitespace)
            {
                let text = yaml::ellipsize(text);
                self.problem(
                    node,
                    format!("`{path}`: `{text}` holds a space; a login or e-mail address has none"),
                );
                continue;
            }
            if let Item::Glob = item
                && let Err(err) = compile_glob(text)
            {
                let text = yaml::ellipsize(text);
                self.problem(
                    node,
                    format!("`{path}`: `{text}` is not a valid glob: {}", err.kind()),
                );
                continue;
            }
            out.push(text.to_owned());
        }
        (self.problems.len() == before).then_some(out)
    }

    fn duration(&mut self, path: &str, node: &Node) -> Option<Duration> {
        let text = match node.scalar().map(yaml::Scalar::value) {
            Some(Value::Str(text)) => text,
            other => {
                let found = node.describe();
                let hint = match other {
                    Some(Value::Int(_)) => {
                        let n = node.scalar().map_or("", |s| s.text.as_str());
                        format!("; add a unit, e.g. `{n}m`")
                    }
                    _ => String::new(),
                };
                self.problem(
                    node,
                    format!(
                        "`{path}` must be a duration such as {DURATION_EXAMPLES}, found {found}{hint}"
                    ),
                );
                return None;
            }
        };
        let duration = match humantime::parse_duration(text) {
            Ok(duration) => duration,
            Err(err) => {
                let why = duration_error(text, &err);
                let text = yaml::ellipsize(text);
                self.problem(
                    node,
                    format!(
                        "`{path}`: `{text}` is not a duration ({why}); write it like {DURATION_EXAMPLES}"
                    ),
                );
                return None;
            }
        };
        if duration.is_zero() {
            self.problem(node, format!("`{path}` must be longer than zero"));
            return None;
        }
        if duration > MAX_REGISTER_TIMEOUT {
            let max_days = MAX_REGISTER_TIMEOUT.as_secs() / (24 * 60 * 60);
            self.problem(
                node,
                format!(
                    "`{path}` must be at most {max_days} days, found `{}`",
                    yaml::ellipsize(text)
                ),
            );
            return None;
        }
        Some(duration)
    }
}

/// What a list holds, for messages and item checks.
#[derive(Clone, Copy)]
enum Item {
    Glob,
    CheckName,
    /// A login or commit e-mail pattern (`*` and `?` only).
    Account,
}

impl Item {
    fn singular(self) -> &'static str {
        match self {
            Item::Glob => "a glob",
            Item::CheckName => "a check name",
            Item::Account => "an account (a login or e-mail pattern)",
        }
    }

    fn singular_bare(self) -> &'static str {
        match self {
            Item::Glob => "glob",
            Item::CheckName => "check name",
            Item::Account => "account",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Item::Glob => "globs",
            Item::CheckName => "check names",
            Item::Account => "accounts (logins or e-mail patterns)",
        }
    }
}

fn section_keys(section: &str) -> &'static [&'static str] {
    SECTIONS
        .iter()
        .find(|(name, _)| *name == section)
        .map_or(&[], |(_, keys)| keys)
}

/// A key's name: any scalar that is not null (`1:` is the key `1`).
fn key_name(key: &Node) -> Option<&str> {
    match key.scalar() {
        Some(s) if !key.is_null() => Some(&s.text),
        _ => None,
    }
}

/// The message for an unknown key: the closest key at this level, else where
/// the key does belong, else the keys that are known here.
fn unknown_key(name: &str, section: Option<&str>, known: &[&str]) -> String {
    let shown = yaml::ellipsize(name);
    let mut message = match section {
        Some(section) => format!("unknown key `{shown}` in `{section}`"),
        None => format!("unknown key `{shown}`"),
    };
    if let Some(close) = closest(name, known) {
        message.push_str(&format!("; did you mean `{close}`?"));
        return message;
    }
    let elsewhere: Vec<String> = SECTIONS
        .iter()
        .filter(|(other, _)| Some(*other) != section)
        .flat_map(|(other, keys)| {
            keys.iter()
                .filter(|k| normalize(k) == normalize(name))
                .map(move |k| format!("`{other}.{k}`"))
        })
        .chain(
            TOP_LEVEL
                .iter()
                .filter(|_| section.is_some())
                .filter(|k| normalize(k) == normalize(name))
                .map(|k| format!("`{k}` at the top level")),
        )
        .collect();
    if elsewhere.is_empty() {
        message.push_str(&format!("; known keys: {}", backticked(known)));
    } else {
        message.push_str(&format!("; did you mean {}?", elsewhere.join(" or ")));
    }
    message
}

/// The candidate closest to `word` if it is close enough to be a likely typo:
/// an edit distance (with transpositions) of at most a third of its length,
/// and at least 1, after folding case and `-` to `_`.
fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = normalize(word);
    if word.is_empty() {
        return None;
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&word, &normalize(c)), *c))
        .filter(|(distance, c)| *distance <= (c.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

fn normalize(key: &str) -> String {
    key.trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// humantime's reasons, in our words and pointing at the text itself.
fn duration_error(text: &str, err: &humantime::DurationError) -> String {
    use humantime::DurationError as E;
    match err {
        E::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("a unit is needed, e.g. `{value}m`")
        }
        E::UnknownUnit { unit, .. } => format!("unknown unit `{unit}`"),
        E::InvalidCharacter(at) | E::NumberExpected(at) => {
            match text.get(*at..).and_then(|rest| rest.chars().next()) {
                Some(c) => format!("unexpected `{c}`"),
                None => "it ends too early".to_owned(),
            }
        }
        E::NumberOverflow => "the number is too large".to_owned(),
        E::Empty => "it is empty".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        let keys = &["enabled", "ignore"];
        assert_eq!(closest("ignroe", keys), Some("ignore"));
        assert_eq!(closest("Ignore", keys), Some("ignore"));
        assert_eq!(closest("enable", keys), Some("enabled"));
        assert_eq!(closest("paths", keys), None);
        assert_eq!(closest("", keys), None);
        assert_eq!(
            closest("max-attempts", &["max_attempts"]),
            Some("max_attempts")
        );
        assert_eq!(
            closest("sqash", &["merge", "squash", "rebase"]),
            Some("squash")
        );
        assert_eq!(
            closest("fast-forward", &["merge", "squash", "rebase"]),
            None
        );
    }

    #[test]
    fn every_schema_key_is_read() {
        // `leaf` panics on a key listed in SECTIONS that it does not read.
        for (section, keys) in SECTIONS {
            for key in *keys {
                let mut reader = Reader {
                    source: ConfigSource::Repo,
                    problems: Vec::new(),
                };
                let node = yaml::load(&format!("{key}: ~\n")).unwrap().root.unwrap();
                let Kind::Map(entries) = &node.kind else {
                    unreachable!()
                };
                reader.leaf(section, key, &entries[0].1, &mut Layer::default());
            }
        }
        for key in TOP_LEVEL {
            assert!(
                ["on_internal_error", "mode"].contains(key) || !section_keys(key).is_empty(),
                "{key}"
            );
        }
    }
}
