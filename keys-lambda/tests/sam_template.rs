//! `examples/lambda/template.yaml` passes `cfn-lint` (from PyPI: `pip install cfn-lint`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/lambda/template.yaml")
}

#[test]
fn sam_template_passes_cfn_lint() {
    let output = match Command::new("cfn-lint").arg(template()).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run cfn-lint ({e}). Install it with `pip install cfn-lint` \
             (or `python3 -m pip install cfn-lint`) and make sure it is on PATH"
        ),
    };
    assert!(
        output.status.success(),
        "cfn-lint found problems in examples/lambda/template.yaml:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sam_template_uses_the_settings_the_binary_reads() {
    let text = std::fs::read_to_string(template()).unwrap();
    for setting in [
        "MASTER_KEY_SECRET_ARN:",
        "SALT_SECRET_ARN:",
        "CORS_ORIGINS:",
        "JWT_JWKS_URL:",
        "JWT_SECRET_SECRET_ARN:",
        "LEASE_STORE_SECRET_ARN:",
        "Runtime: provided.al2023",
        "- arm64",
        "- secretsmanager:GetSecretValue",
        "SPEKE_KEY_URL_BASE:",
    ] {
        assert!(text.contains(setting), "template.yaml lacks {setting}");
    }
    // API Gateway CORS stays off: the router answers CORS itself.
    assert!(!text.contains("CorsConfiguration:"));
    // SPEKE: its own route with IAM authorization, and no other route with it.
    let speke = text.find("Path: /speke/{proxy+}").expect("no SPEKE route");
    let route = &text[speke..];
    let route = &route[..route
        .find("\n        Health:")
        .expect("SPEKE route before Health")];
    assert!(
        route.contains("Method: POST") && route.contains("Authorizer: AWS_IAM"),
        "{route}"
    );
    assert_eq!(text.matches("Authorizer: AWS_IAM").count(), 1);
    assert!(text.contains("execute-api:Invoke") && text.contains("/POST/speke/*"));
    // No plain-text key material.
    assert!(!text.contains("MASTER_KEY:") && !text.contains("SALT:"));
}
