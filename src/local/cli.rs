//! Command-line entry points of the local guards: `scan`, `pre-push`,
//! `install-hook`.
//!
//! Exit codes are a contract. `scan`: 0 clean, 1 findings, 2 usage or
//! internal error. `pre-push`: 1 blocks the push; everything else is 0, and
//! when the guard itself fails (no git, not a repository, a broken object)
//! it says so on stderr and lets the push through — a broken guard must not
//! lock people out. `install-hook`: 0 installed (or already there), 1
//! refused (someone else's hook, no `--force`), 2 error.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::config::repo::{CONFIG_PATH, RepoConfig};
use crate::ids::CommitSha;
use crate::local::git::Repo;
use crate::local::hook::{
    InstallError, Installed, PushCheck, RemoteKnowledge, install_hook as install,
    parse_pre_push_input, push_check,
};
use crate::local::markers::Target;
use crate::local::report::{GuardRun, Report, run_guards, run_staged_guards};

/// Exit code for usage and internal errors.
const EXIT_ERROR: u8 = 2;

/// Output format of `seamguard scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line: message`, one finding per line (summary on stderr).
    Text,
    /// One JSON document on stdout.
    Json,
}

/// `seamguard scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The repository (any folder inside it). Default: the current one.
    pub path: Option<PathBuf>,
    /// The commit to scan (what would be pushed).
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
    /// Report lines added since the merge base with this ref. Default: the
    /// current branch's upstream, else origin/HEAD.
    #[arg(long)]
    pub base: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Scan every file at REV whole, not only the lines added since the base.
    #[arg(long)]
    pub all: bool,
    /// Scan what is staged (the lines the index adds compared with HEAD)
    /// for conflict markers: the form for a pre-commit hook.
    #[arg(long, conflicts_with_all = ["rev", "base", "all"])]
    pub staged: bool,
}

/// `seamguard pre-push` (git passes the remote's name and URL).
#[derive(Debug, clap::Args)]
pub struct PrePushArgs {
    /// The remote's name (or its URL when pushing to a URL).
    pub remote: Option<String>,
    /// The remote's URL.
    pub url: Option<String>,
}

/// `seamguard install-hook`.
#[derive(Debug, clap::Args)]
pub struct InstallHookArgs {
    /// The repository (any folder inside it). Default: the current one.
    pub path: Option<PathBuf>,
    /// Replace an existing pre-push hook that is not seamguard's (it is kept
    /// as `pre-push.seamguard-backup`).
    #[arg(long)]
    pub force: bool,
}

/// Reads the repository config for the local commands from the working tree.
///
/// The single place the local commands load `.github/seamguard.yml`: a
/// missing file (or a bare repository) means the defaults; an invalid one is
/// an error listing each problem as `file:line:col: message`.
pub fn load_repo_config(root: &Path) -> Result<RepoConfig> {
    // `.yml` wins; `.yaml` is read when it is the only one.
    let dir = root.join(crate::config::repo::CONFIG_DIR);
    let present = crate::config::repo::CONFIG_NAMES.map(|n| dir.join(n).is_file());
    let (chosen, _) = crate::config::repo::choose_config_file(
        crate::config::repo::CONFIG_NAMES
            .iter()
            .zip(present)
            .filter_map(|(n, p)| p.then_some(*n)),
    );
    let path = root.join(chosen.as_deref().unwrap_or(CONFIG_PATH));
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            RepoConfig::parse(&text).map_err(|problems| {
                let lines: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}:{p}", path.display()))
                    .collect();
                anyhow::anyhow!("invalid configuration:\n{}", lines.join("\n"))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RepoConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn repo_config(repo: &Repo) -> Result<RepoConfig> {
    match repo.worktree() {
        Some(root) => load_repo_config(root),
        None => Ok(RepoConfig::default()),
    }
}

/// `seamguard scan`: exit 0 clean, 1 findings, 2 error.
pub fn scan(args: ScanArgs) -> ExitCode {
    let report = match run_scan(&args) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("seamguard: {e:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = match args.format {
        Format::Json => writeln!(stdout, "{}", report.to_json()),
        Format::Text => report
            .finding_lines()
            .iter()
            .try_for_each(|l| writeln!(stdout, "{l}")),
    };
    if args.format == Format::Text {
        for section in report.sections() {
            eprintln!("seamguard: {}", section.summary());
        }
    }
    report.exit_code()
}

fn run_scan(args: &ScanArgs) -> Result<Report> {
    let repo = Repo::discover(args.path.as_deref().unwrap_or(Path::new(".")))?;
    let config = repo_config(&repo)?;
    if args.staged {
        return run_staged_guards(&repo, &config);
    }
    let head = repo.commit(&args.rev)?;
    let (target, base) = if args.all {
        let base = match &args.base {
            Some(b) => Some(repo.commit(b)?),
            None => default_base(&repo)?,
        };
        (Target::All(head.clone()), base)
    } else {
        let base = match &args.base {
            Some(b) => repo.commit(b)?,
            None => match default_base(&repo)? {
                Some(b) => b,
                None => bail!(
                    "no base to compare with: pass --base REF, set an upstream for the current \
                     branch (git branch --set-upstream-to), or scan every file with --all"
                ),
            },
        };
        let bases = repo.merge_bases(&base, &head)?;
        (
            Target::Added {
                bases,
                head: head.clone(),
            },
            Some(base),
        )
    };
    run_guards(&GuardRun {
        repo: &repo,
        config: &config,
        target,
        base,
        head,
    })
}

/// The upstream of the current branch, else `origin/HEAD`.
fn default_base(repo: &Repo) -> Result<Option<CommitSha>> {
    if let Some(upstream) = repo.upstream()? {
        return Ok(Some(upstream));
    }
    repo.resolve_commit("refs/remotes/origin/HEAD")
}

/// `seamguard pre-push`: exit 1 blocks the push; guard failures let it through.
pub fn pre_push(args: PrePushArgs) -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return fail_open(&anyhow::Error::new(e).context("reading the hook's input"));
    }
    let input = String::from_utf8_lossy(&input);
    let outcome = match run_pre_push(&args, &input) {
        Ok(outcome) => outcome,
        Err(e) => return fail_open(&e),
    };
    for warning in &outcome.failures {
        eprintln!("seamguard: warning: could not check {warning}");
    }
    if outcome.blocked.is_empty() {
        if !outcome.failures.is_empty() {
            eprintln!(
                "seamguard: warning: letting the push through unchecked (the guard failed, not your code)"
            );
        }
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "seamguard: push blocked: the pushed commits add git conflict markers, merge in a disallowed branch or carry a long-lived branch's history."
    );
    for (local_ref, lines) in &outcome.blocked {
        eprintln!("{local_ref}:");
        for line in lines {
            eprintln!("  {line}");
        }
    }
    eprintln!(
        "Fix what is listed (resolve the conflicts, undo the merge, or rebase as shown), or skip this check once with `git push --no-verify`."
    );
    ExitCode::from(1)
}

fn fail_open(error: &anyhow::Error) -> ExitCode {
    eprintln!("seamguard: warning: the pre-push guard failed, letting the push through: {error:#}");
    ExitCode::SUCCESS
}

/// The result of checking every pushed ref.
#[derive(Debug, Default)]
struct PrePushOutcome {
    /// Refs with findings, and their finding lines.
    blocked: Vec<(String, Vec<String>)>,
    /// Refs that could not be checked, with why.
    failures: Vec<String>,
}

fn run_pre_push(args: &PrePushArgs, input: &str) -> Result<PrePushOutcome> {
    let pushed = parse_pre_push_input(input)?;
    if pushed.is_empty() {
        return Ok(PrePushOutcome::default());
    }
    let repo = Repo::discover(Path::new("."))?;
    let config = repo_config(&repo)?;
    let remote =
        RemoteKnowledge::gather(&repo, args.remote.as_deref(), args.url.as_deref(), &pushed)?;
    let mut outcome = PrePushOutcome::default();
    let mut checked: Vec<(Target, Vec<String>)> = Vec::new();
    for r in &pushed {
        let result = push_check(&repo, &remote, r).and_then(|check| {
            let PushCheck::Check { target, base, head } = check else {
                return Ok(Vec::new());
            };
            // Several refs often push the same commits: check them once.
            if let Some((_, lines)) = checked.iter().find(|(t, _)| *t == target) {
                return Ok(lines.clone());
            }
            let run = GuardRun {
                repo: &repo,
                config: &config,
                target: target.clone(),
                base,
                head,
            };
            let lines = run_guards(&run)?.finding_lines();
            checked.push((target, lines.clone()));
            Ok(lines)
        });
        match result {
            Ok(lines) if lines.is_empty() => {}
            Ok(lines) => outcome.blocked.push((r.local_ref.clone(), lines)),
            Err(e) => outcome.failures.push(format!("{}: {e:#}", r.local_ref)),
        }
    }
    Ok(outcome)
}

/// `seamguard install-hook`: 0 installed, 1 refused, 2 error.
pub fn install_hook(args: InstallHookArgs) -> ExitCode {
    let path = args.path.as_deref().unwrap_or(Path::new("."));
    match install(path, args.force) {
        Ok(Installed::New(hook)) => println!(
            "seamguard: installed the pre-push hook at {}",
            hook.display()
        ),
        Ok(Installed::Unchanged(hook)) => println!(
            "seamguard: the pre-push hook at {} is already installed",
            hook.display()
        ),
        Ok(Installed::Updated(hook)) => {
            println!("seamguard: updated the pre-push hook at {}", hook.display())
        }
        Ok(Installed::Replaced { path, backup }) => println!(
            "seamguard: installed the pre-push hook at {} (the previous hook is kept at {})",
            path.display(),
            backup.display()
        ),
        Err(refused @ (InstallError::Refused(_) | InstallError::RefusedLink { .. })) => {
            eprintln!("seamguard: {refused}");
            return ExitCode::from(1);
        }
        Err(InstallError::Failed(e)) => {
            eprintln!("seamguard: {e:#}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    ExitCode::SUCCESS
}
