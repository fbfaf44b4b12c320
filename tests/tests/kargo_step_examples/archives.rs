//! Kargo's `tar` and `untar` examples, and archives that try to leave the workspace.

use super::*;

fn source_code(workspace: &Path) {
    for (file, content) in [
        ("source-code/main.go", "package main\n"),
        ("source-code/temp/scratch.txt", "scratch\n"),
        ("source-code/.DS_Store", "junk"),
        ("source-code/app.log", "log\n"),
    ] {
        let path = workspace.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

#[test]
fn tar_and_untar_examples_round_trip_strip_and_ignore() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    source_code(workspace.path());
    // tar: basic (gzip), uncompressed, with ignore patterns.
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./source-code\n    outPath: ./artifacts/bundle.tar.gz\n    gzip: true\n",
    )
    .unwrap();
    let gz = std::fs::read(workspace.path().join("artifacts/bundle.tar.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzipped");
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./source-code\n    outPath: ./artifacts/bundle.tar\n    gzip: false\n",
    )
    .unwrap();
    let plain = std::fs::read(workspace.path().join("artifacts/bundle.tar")).unwrap();
    assert_eq!(&plain[257..262], b"ustar", "a plain tar");
    // untar: basic, into ./extracted.
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n",
    )
    .unwrap();
    assert_eq!(
        tree(&workspace.path().join("extracted")),
        [".DS_Store", "app.log", "main.go", "temp/", "temp/scratch.txt"]
    );
    assert_eq!(std::fs::read_to_string(workspace.path().join("extracted/main.go")).unwrap(), "package main\n");
    // tar with ignore, then untar with stripComponents: 1 after wrapping it one level deeper.
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./source-code\n    outPath: ./artifacts/bundle.tar.gz\n    gzip: true\n    ignore: |\n      temp/\n      .DS_Store\n",
    )
    .unwrap();
    std::fs::remove_dir_all(workspace.path().join("extracted")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n",
    )
    .unwrap();
    assert_eq!(tree(&workspace.path().join("extracted")), ["app.log", "main.go"]);
    // A tar of a directory holding the tree one level down, stripped back.
    std::fs::create_dir_all(workspace.path().join("wrap")).unwrap();
    std::fs::rename(workspace.path().join("source-code"), workspace.path().join("wrap/source-code")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: ./wrap\n    outPath: ./artifacts/bundle.tar.gz\n    gzip: true\n",
    )
    .unwrap();
    std::fs::remove_dir_all(workspace.path().join("extracted")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n    stripComponents: 1\n",
    )
    .unwrap();
    assert_eq!(
        tree(&workspace.path().join("extracted")),
        [".DS_Store", "app.log", "main.go", "temp/", "temp/scratch.txt"]
    );
    // untar with ignore patterns.
    std::fs::remove_dir_all(workspace.path().join("extracted")).unwrap();
    run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: ./artifacts/bundle.tar.gz\n    outPath: ./extracted\n    stripComponents: 1\n    ignore: |\n      *.log\n      temp/\n      .DS_Store\n",
    )
    .unwrap();
    assert_eq!(tree(&workspace.path().join("extracted")), ["main.go"]);
}

/// A tar file holding one entry whose name (or link) the `tar` crate would refuse to
/// write, built by hand.
fn hostile_tar(name: &str, kind: u8, link: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

#[test]
fn untar_refuses_entries_that_would_leave_the_workspace() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let mut canary = lading_tests::canary::Canary::new();
    let outside = canary.plant("target.txt", "untouched\n");
    for (name, kind, link, what) in [
        ("../escape.txt", b'0', "", "leads outside the archive's directory"),
        ("/abs.txt", b'0', "", "leads outside the archive's directory"),
        ("link", b'2', outside.to_str().unwrap(), "which leads outside the promotion's workspace"),
        ("uplink", b'2', "../../../../../../../../../../../../../..", "which leads outside the promotion's workspace"),
        ("hard", b'1', "/etc/passwd", "is not unpacked"),
    ] {
        let workspace = tempfile::tempdir().unwrap();
        std::fs::write(workspace.path().join("evil.tar"), hostile_tar(name, kind, link, b"pwned\n")).unwrap();
        let error = run_with(
            EngineRun::new(&freight),
            workspace.path(),
            "steps:\n- uses: untar\n  config:\n    inPath: evil.tar\n    outPath: out\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains(what), "{name}: {error}");
        assert!(!workspace.path().parent().unwrap().join("escape.txt").exists());
    }
    canary.assert_untouched();
}

#[test]
fn tar_refuses_a_symlink_leading_outside_and_untar_keeps_to_its_budget() {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let mut canary = lading_tests::canary::Canary::new();
    let secret = canary.plant("secret.txt", "do not pack\n");
    let workspace = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(workspace.path().join("src")).unwrap();
    std::os::unix::fs::symlink(&secret, workspace.path().join("src/leak")).unwrap();
    let error = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        "steps:\n- uses: tar\n  config:\n    inPath: src\n    outPath: out.tar\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("holds the symlink \"leak\", which leads outside"), "{error}");
    canary.assert_untouched();
    // A gzip bomb: 2 MiB of zeros in one entry, more than a budget of 1 MiB.
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    let size: u64 = 2 << 20;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "zeros", std::io::Read::take(std::io::repeat(0), size)).unwrap();
    let bomb = builder.into_inner().unwrap().finish().unwrap();
    std::fs::write(workspace.path().join("bomb.tar.gz"), bomb).unwrap();
    let mut budgets = lading_promoter::steps::RemoteBudgets::default();
    budgets.unpack.max_bytes = 1 << 20;
    let error = run_with(
        EngineRun { budgets, ..EngineRun::new(&freight) },
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: bomb.tar.gz\n    outPath: x\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("unpacks to more than 1048576 bytes"), "{error}");
    // and a tar of more entries than its budget.
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..20 {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("f{i}"), std::io::empty()).unwrap();
    }
    std::fs::write(workspace.path().join("many.tar"), builder.into_inner().unwrap()).unwrap();
    budgets.unpack.max_entries = 10;
    let error = run_with(
        EngineRun { budgets, ..EngineRun::new(&freight) },
        workspace.path(),
        "steps:\n- uses: untar\n  config:\n    inPath: many.tar\n    outPath: many\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("holds more than 10 entries"), "{error}");
}
