//! `merge`: N shard processes of a sweep, merged, give exactly the unsharded sweep's result,
//! byte for byte, and the same JUnit file; results that are not one sweep's shards are
//! refused.

use super::*;
use std::process::Stdio;

/// Runs `sweep FILE --keep-going --json` with `extra` flags and writes its stdout to `out`.
fn sweep_to(file: &Path, seeds: &str, extra: &[&str], out: &Path) -> std::process::Child {
    let stdout = std::fs::File::create(out).expect("writable");
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        seeds,
        "--keep-going",
        "--json",
        "--jobs",
        "1",
    ];
    args.extend_from_slice(extra);
    command(&args)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts")
}

fn last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().last().expect("a result").to_string()
}

#[test]
fn shard_processes_merge_into_exactly_the_unsharded_result() {
    let dir = scratch("merge");
    let file = sometimes_failing(&dir);
    for (seeds, shards) in [("0..30", 3), ("random:77", 4)] {
        let count: &[&str] = if seeds.starts_with("random") {
            &["--count", "30"]
        } else {
            &[]
        };
        let whole = dir.join("whole.json");
        let whole_junit = dir.join("whole.xml");
        let mut extra = count.to_vec();
        extra.extend(["--junit", whole_junit.to_str().unwrap()]);
        let mut children = vec![sweep_to(&file, seeds, &extra, &whole)];
        let parts: Vec<PathBuf> = (0..shards)
            .map(|i| dir.join(format!("shard-{i}.json")))
            .collect();
        for (i, part) in parts.iter().enumerate() {
            let shard = format!("{i}/{shards}");
            let mut extra = count.to_vec();
            extra.extend(["--shard", shard.as_str()]);
            children.push(sweep_to(&file, seeds, &extra, part));
        }
        for mut child in children {
            assert_eq!(child.wait().unwrap().code(), Some(1), "some seed fails");
        }
        // The shards' results are shards: each its own part of the seeds.
        let shard_runs: u64 = parts
            .iter()
            .map(|p| {
                let r: SweepResult = serde_json::from_str(&last_line(p)).unwrap();
                assert_eq!(r.shard.as_ref().map(|s| s.count), Some(shards));
                r.seeds_run
            })
            .sum();
        assert_eq!(shard_runs, 30);

        let merged_junit = dir.join("merged.xml");
        let mut args = vec!["merge", "--json", "--junit", merged_junit.to_str().unwrap()];
        let mut given: Vec<&PathBuf> = parts.iter().collect();
        given.reverse();
        args.extend(given.iter().map(|p| p.to_str().unwrap()));
        let merged = sim(&args);
        assert_eq!(merged.status.code(), Some(1), "{}", text(&merged.stderr));
        let merged_line = text(&merged.stdout).lines().last().unwrap().to_string();
        assert_eq!(merged_line, last_line(&whole), "seeds {seeds}");
        let result: SweepResult = serde_json::from_str(&merged_line).unwrap();
        assert_eq!((result.seeds_run, result.shard), (30, None));
        assert!(!result.failures.is_empty());
        assert_eq!(
            std::fs::read_to_string(&merged_junit).unwrap(),
            std::fs::read_to_string(&whole_junit).unwrap()
        );
    }
}

#[test]
fn results_that_are_not_one_sweeps_shards_are_refused() {
    let dir = scratch("merge-refused");
    let file = always_failing(&dir);
    let part = |shard: &str, seeds: &str, name: &str| {
        let out = dir.join(name);
        let status = sweep_to(&file, seeds, &["--shard", shard], &out)
            .wait()
            .unwrap();
        assert_eq!(status.code(), Some(1));
        out
    };
    let a = part("0/2", "0..4", "a.json");
    let b = part("1/2", "0..4", "b.json");
    let other = part("1/2", "0..6", "other.json");
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![path(&a)],
            "cannot merge: the shards are not one split of the seeds: shard 1/2 is missing".into(),
        ),
        (
            vec![path(&a), path(&a), path(&b)],
            "shard 0/2 is given twice".into(),
        ),
        (
            vec![path(&a), path(&other)],
            "report 2 swept seeds 0..6, the first swept 0..4".into(),
        ),
        (
            vec![path(&a), path(&file)],
            format!("{}:2: not JSON", file.display()),
        ),
        (
            vec![path(&a), path(&dir.join("missing.json"))],
            "missing.json: cannot read".into(),
        ),
    ];
    for (files, expected) in cases {
        let mut args = vec!["merge"];
        args.extend(files.iter().map(String::as_str));
        assert_bad_input(&sim(&args), &expected);
    }
    let empty = write(
        &dir,
        "empty.json",
        "{\"type\":\"sweep_start\",\"version\":1}\n",
    );
    assert_bad_input(
        &sim(&["merge", empty.to_str().unwrap()]),
        "no sweep_result object",
    );
    let newer = write(
        &dir,
        "newer.json",
        "{\"type\":\"sweep_result\",\"version\":9}\n",
    );
    assert_bad_input(
        &sim(&["merge", newer.to_str().unwrap()]),
        "newer.json:1: written with JSON schema version 9",
    );
    // The two halves are one sweep.
    let merged = sim(&["merge", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(1));
    // With no time: the shards' JSON keeps none, and merge invents none.
    let stdout = text(&merged.stdout);
    assert!(stdout.contains("swept 4 seed(s) of 0..4: "), "{stdout}");
    assert!(!stdout.contains("seeds/s"), "{stdout}");
}
