//! A `strait` process under test, and `strait check-config`.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{die_with_test, signal};

/// How a `strait node` process is started beyond its config text: where the config file is
/// written, from which working directory, with which extra arguments. The default is what
/// [`Strait::start`] does.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The config file to write (it is left in place): e.g. next to a relative data dir. Default:
    /// `strait.<extension>` in a new temp dir.
    pub config_file: Option<PathBuf>,
    /// The process's working directory. Default: the test's.
    pub cwd: Option<PathBuf>,
    /// Arguments after `node --config FILE`, e.g. `--rejoin`.
    pub args: Vec<String>,
    /// A command the node runs under: `[program, args...]` followed by the `strait` binary and
    /// its arguments, e.g. `ip netns exec NS` to run it in a network namespace
    /// ([`crate::netns`]). The wrapper must exec the binary (not fork it): the process's id is
    /// the node's, for signals. Empty: none.
    pub wrap: Vec<String>,
}

/// How long a SIGTERMed node may take to drain and exit.
pub const TERMINATE_DEADLINE: Duration = Duration::from_secs(60);

/// A running `strait node`. Dropping it kills the process (SIGKILL) if it still runs.
pub struct Strait {
    child: Child,
    config: PathBuf,
    log: PathBuf,
    exit: Option<ExitStatus>,
    /// Holds the config file and the log; removed on drop.
    _dir: TempDir,
}

impl Strait {
    /// Writes `config` to `strait.<extension>` (`toml` or `properties`) in a new temp dir and
    /// starts `strait node --config` on it, stdout and stderr going to a log file.
    pub fn start(config: &str, extension: &str) -> Strait {
        Strait::start_with_env(config, extension, &[])
    }

    /// [`Strait::start`] with extra environment variables (e.g. `STRAIT__...` overrides).
    pub fn start_with_env(config: &str, extension: &str, env: &[(&str, &str)]) -> Strait {
        let dir = temp_dir("strait-node-");
        let path = dir.path().join(format!("strait.{extension}"));
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Strait::spawn(dir, path, env)
    }

    /// Starts `strait node --config <path>` on an existing file.
    pub fn start_file(path: &Path) -> Strait {
        Strait::spawn(temp_dir("strait-node-"), path.to_owned(), &[])
    }

    /// Writes `config` and starts `strait node` on it as `launch` says.
    pub fn launch(config: &str, extension: &str, launch: &Launch) -> Strait {
        let dir = temp_dir("strait-node-");
        let path = launch
            .config_file
            .clone()
            .unwrap_or_else(|| dir.path().join(format!("strait.{extension}")));
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Strait::spawn_with(dir, path, &[], launch)
    }

    fn spawn(dir: TempDir, config: PathBuf, env: &[(&str, &str)]) -> Strait {
        Strait::spawn_with(dir, config, env, &Launch::default())
    }

    fn spawn_with(dir: TempDir, config: PathBuf, env: &[(&str, &str)], launch: &Launch) -> Strait {
        let log = dir.path().join("strait.log");
        let out = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().expect("cloning a file handle");
        let mut command = wrapped(&launch.wrap);
        command
            .arg("node")
            .arg("--config")
            .arg(&config)
            .args(&launch.args)
            // Plain log lines in the log file.
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(cwd) = &launch.cwd {
            command.current_dir(cwd);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", strait_bin().display()));
        Strait {
            child,
            config,
            log,
            exit: None,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The config file the node runs on.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// `None` while the process runs, else its exit status.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("waiting for strait");
        }
        self.exit
    }

    /// `true` once the process exited (a zombie not yet waited for counts as exited). Needs no
    /// `&mut`, for checks inside wait loops.
    pub fn has_exited(&self) -> bool {
        if self.exit.is_some() {
            return true;
        }
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => true,
        }
    }

    /// Panics (with the log) when the node exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.try_exit() {
            panic!(
                "strait exited unexpectedly ({status})\n--- strait log ---\n{}",
                self.log_tail(60)
            );
        }
    }

    /// SIGKILL, then waits for the process: a crash, nothing drained or flushed.
    pub fn kill9(&mut self) {
        if self.try_exit().is_none() {
            signal(self.pid(), libc::SIGKILL);
            self.exit = Some(self.child.wait().expect("waiting for strait"));
        }
    }

    /// SIGTERM, then waits up to [`TERMINATE_DEADLINE`] for the exit (panics with the log after
    /// that) and returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        if let Some(status) = self.try_exit() {
            panic!(
                "strait had already exited ({status}) before SIGTERM\n--- strait log ---\n{}",
                self.log_tail(60)
            );
        }
        signal(self.pid(), libc::SIGTERM);
        self.wait_exit(TERMINATE_DEADLINE)
    }

    /// Sends `sig` to the process (e.g. SIGSTOP / SIGCONT to freeze and resume it, or SIGTERM to
    /// several nodes before waiting for any).
    pub fn send_signal(&self, sig: libc::c_int) {
        signal(self.pid(), sig);
    }

    /// Waits up to `deadline` for the process to exit and returns its exit status; panics with
    /// the log after that.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            if started.elapsed() > deadline {
                panic!(
                    "strait did not exit within {deadline:?}\n--- strait log ---\n{}",
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident set size (VmRSS of /proc/PID/status), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS line in {path}"))
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the node wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of [`Strait::log`].
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Strait {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- strait log ({}), last lines ---\n{}",
                self.log.display(),
                self.log_tail(20)
            );
        }
    }
}

/// What `strait check-config` (or another `strait` command that exits) did.
#[derive(Debug)]
pub struct CheckOutput {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `strait check-config --config <path> --offline` (no cluster contacted) with extra
/// environment variables.
pub fn check_config(path: &Path, env: &[(&str, &str)]) -> CheckOutput {
    check_config_args(path, &["--offline"], env)
}

/// Runs `strait check-config --config <path> <args>` with extra environment variables.
pub fn check_config_args(path: &Path, args: &[&str], env: &[(&str, &str)]) -> CheckOutput {
    let output = command()
        .arg("check-config")
        .arg("--config")
        .arg(path)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {} check-config: {e}", strait_bin().display()));
    CheckOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `strait <args>` (a CLI command such as `leave` or `nodes`) to its exit, with none of the
/// `STRAIT_*` variables of the test's environment (`STRAIT_CONTROL_TOKEN`, `STRAIT_CONTACT`...):
/// the test passes what it means in `args`.
pub fn run_cli(args: &[&str]) -> CheckOutput {
    let mut command = command();
    let leaked: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("STRAIT_"))
        .collect();
    for name in leaked {
        command.env_remove(name);
    }
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", strait_bin().display()));
    CheckOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `strait <args>` like [`run_cli`]; the command must succeed. Returns its stdout.
pub fn run_cli_ok(args: &[&str]) -> String {
    let out = run_cli(args);
    assert!(
        out.code == Some(0),
        "strait {args:?} failed ({:?}):\n{}{}",
        out.code,
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// Runs `strait node --config <path>` and waits for it to exit (for configs that must be
/// refused), at most `deadline`.
pub fn run_node_to_exit(path: &Path, deadline: Duration) -> CheckOutput {
    let dir = temp_dir("strait-node-");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = command()
        .arg("node")
        .arg("--config")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", strait_bin().display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for strait") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "strait node --config {} still running after {deadline:?} (expected it to refuse the config); stderr:\n{}",
                path.display(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    CheckOutput {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// A `strait` command with a clean environment: no `STRAIT__*` override leaks in from the
/// environment the tests run in (tests pass the ones they want explicitly). It dies with the
/// test.
fn command() -> Command {
    wrapped(&[])
}

/// [`command`] run under `wrap` (see [`Launch::wrap`]): the wrapper's command with the `strait`
/// binary as its last argument so far.
fn wrapped(wrap: &[String]) -> Command {
    let mut command = match wrap.split_first() {
        None => Command::new(strait_bin()),
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(strait_bin());
            command
        }
    };
    die_with_test(&mut command);
    let leaked: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("STRAIT__"))
        .collect();
    for name in leaked {
        command.env_remove(name);
    }
    command
}

/// The `strait` binary: `$STRAIT_BIN`, else `<target>/debug/strait` (the test binary lives in
/// `<target>/debug/deps/`).
pub fn strait_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("STRAIT_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in <target>/<profile>/deps/");
    let bin = profile_dir.join("strait");
    assert!(
        bin.is_file(),
        "the strait binary is not at {}: build it first (`cargo build -p strait-node`) or set STRAIT_BIN",
        bin.display()
    );
    bin
}

/// A temp dir removed on drop (also when the test fails).
pub fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temp dir")
}
