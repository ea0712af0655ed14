//! The fake GitHub, driven by seamguard's real client.

mod support;

use support::FakeGitHub;

#[tokio::test]
async fn starts() {
    let gh = FakeGitHub::start().await;
    let _repo = gh.repo("acme/app");
}
