//! The container image and the Kubernetes manifests agree with the binary:
//! every variable they set is one `serve` reads, the grace Kubernetes gives
//! covers `SHUTDOWN_GRACE` and the last request's body, the user is the
//! image's, and the probes are the server's. (Kubernetes' own schemas are
//! checked in CI by kubernetes-validate: .ci/run.)

use std::process::Command;

const DEPLOYMENT: &str = include_str!("../deploy/kubernetes/deployment.yaml");
const CONTAINERFILE: &str = include_str!("../Containerfile");

/// The value after `key:` on the first line holding it, unquoted.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}"))
        .trim()
        .trim_matches('"')
}

/// `- name: X` under `env:` in the Deployment, and `ENV X=` in the image.
fn variables() -> Vec<String> {
    let mut names: Vec<String> = DEPLOYMENT
        .split("env:")
        .nth(1)
        .unwrap()
        .split("resources:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: "))
        .map(str::to_owned)
        .collect();
    let env = CONTAINERFILE.split("\nENV ").nth(1).unwrap();
    for line in env.lines() {
        let name = line.trim().split('=').next().unwrap();
        names.push(name.to_owned());
        if !line.ends_with('\\') {
            break;
        }
    }
    names
}

#[test]
fn every_variable_set_is_one_serve_reads() {
    let help = Command::new(env!("CARGO_BIN_EXE_seamguard"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let names = variables();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        if name == "SSL_CERT_FILE" {
            continue; // read by the TLS roots' loader, not by a flag
        }
        assert!(
            help.contains(&format!("[env: {name}")),
            "{name} is not a `serve` setting"
        );
    }
}

#[test]
fn kubernetes_waits_for_the_shutdown_grace_and_the_last_body() {
    let grace: u64 = field(DEPLOYMENT, "terminationGracePeriodSeconds")
        .parse()
        .unwrap();
    let shutdown = humantime::parse_duration(
        DEPLOYMENT
            .split("name: SHUTDOWN_GRACE")
            .nth(1)
            .map(|rest| field(rest, "value"))
            .unwrap(),
    )
    .unwrap();
    let body = seamguard::server::webhook::BODY_READ_TIMEOUT;
    assert!(
        grace >= (shutdown + body).as_secs(),
        "{grace}s < SHUTDOWN_GRACE {shutdown:?} + a body's {body:?}"
    );
}

#[test]
fn the_pods_run_as_the_images_user_with_its_probes_and_port() {
    let user = CONTAINERFILE
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .unwrap();
    let (uid, gid) = user.split_once(':').unwrap();
    assert_eq!(field(DEPLOYMENT, "runAsUser"), uid);
    assert_eq!(field(DEPLOYMENT, "runAsGroup"), gid);
    assert_eq!(field(DEPLOYMENT, "runAsNonRoot"), "true");
    assert_eq!(field(DEPLOYMENT, "readOnlyRootFilesystem"), "true");
    assert_eq!(field(DEPLOYMENT, "replicas"), "2");
    let liveness = DEPLOYMENT.split("livenessProbe:").nth(1).unwrap();
    assert_eq!(field(liveness, "path"), "/healthz");
    let readiness = DEPLOYMENT.split("readinessProbe:").nth(1).unwrap();
    assert_eq!(field(readiness, "path"), "/readyz");
    assert_eq!(field(DEPLOYMENT, "containerPort"), "3000");
    assert!(CONTAINERFILE.contains("LISTEN_ADDR=0.0.0.0:3000"));
    assert!(CONTAINERFILE.contains("\nFROM scratch\n"));
    assert!(CONTAINERFILE.contains("CMD [\"serve\"]"));
}
