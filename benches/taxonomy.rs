//! Keyword tagging speed: compiling the built-in taxonomy, and tagging texts of several sizes
//! with it (one pass over the words of the title and one over the body).
//!
//! `cargo bench --bench taxonomy`. The texts are built here, so the benchmark needs no network
//! and no corpus.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use feedsmith::enrich::taxonomy::{Taxonomy, DEFAULT_TAXONOMY};

/// A DevOps-flavoured text of about `bytes` bytes: prose with a realistic share of taxonomy
/// terms (and near misses such as "overwhelmed" and "good").
fn text(bytes: usize) -> String {
    const PARAGRAPH: &str = "We moved our CI/CD from Jenkins to GitHub Actions last quarter and I \
        was overwhelmed at first. Our Kubernetes clusters run on AKS and EKS, deployed with Helm \
        and Argo CD, and the Terraform state lives in S3. Observability is Prometheus plus \
        Grafana; logs go to Loki. The good part: builds are faster, the bad part is YAML. \
        Has anyone tried running a local LLM with llama.cpp on the build agents to review pull \
        requests? Security wants an SBOM for every container image, so Trivy runs on each push. ";
    let mut s = String::with_capacity(bytes + PARAGRAPH.len());
    while s.len() < bytes {
        s.push_str(PARAGRAPH);
        s.push('\n');
    }
    s
}

fn taxonomy(c: &mut Criterion) {
    let mut group = c.benchmark_group("taxonomy");
    group.throughput(Throughput::Bytes(DEFAULT_TAXONOMY.len() as u64));
    group.bench_function("compile built-in", |b| {
        b.iter(|| Taxonomy::from_toml(black_box(DEFAULT_TAXONOMY), "built-in"))
    });
    let taxonomy = match Taxonomy::from_toml(DEFAULT_TAXONOMY, "built-in") {
        Ok(t) => t,
        Err(e) => panic!("the built-in taxonomy is invalid: {e}"),
    };
    let title = "Moving from Jenkins to GitHub Actions on Kubernetes";
    for (name, size) in [
        ("tag 2 KB post", 2_000),
        ("tag 20 KB post", 20_000),
        ("tag 200 KB article", 200_000),
    ] {
        let body = text(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| taxonomy.tag(black_box(title), black_box(&body), 10))
        });
    }
    group.finish();
}

criterion_group!(benches, taxonomy);
criterion_main!(benches);
