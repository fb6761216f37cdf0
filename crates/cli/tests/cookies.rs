//! `sesh cookies …` against a real persistent partition.

use serde_json::Value;

use crate::{sesh_in, stderr, stdout};

#[test]
fn set_header_then_header_and_get_across_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = sesh_in(
        d,
        &[
            "--partition",
            "persist:c",
            "cookies",
            "set-header",
            "--url",
            "https://www.shop.test/cart/view",
            "cart=3; Max-Age=3600; Path=/",
            "sid=abc; Secure; HttpOnly",
            "bad=1; Domain=com",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "one value was rejected");
    assert!(stderr(&out).contains("bad=1"), "{}", stderr(&out));
    // Persistent cookies are there for the next process; session cookies are not.
    let out = sesh_in(
        d,
        &[
            "--partition",
            "persist:c",
            "cookies",
            "header",
            "--url",
            "https://www.shop.test/cart/x",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "cart=3\n");
    let out = sesh_in(
        d,
        &[
            "--partition",
            "persist:c",
            "cookies",
            "get",
            "--domain",
            "shop.test",
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["name"], "cart");
    assert_eq!(json[0]["hostOnly"], true);
    assert_eq!(json[0]["session"], false);
}

#[test]
fn set_and_remove_with_electrons_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let set = |extra: &[&str]| {
        let mut args = vec![
            "--partition",
            "persist:c",
            "cookies",
            "set",
            "--url",
            "https://a.test/",
            "--name",
            "n",
            "--value",
            "v",
        ];
        args.extend_from_slice(extra);
        sesh_in(d, &args)
    };
    assert!(set(&["--expires", "4102444800"]).status.success());
    let out = set(&["--same-site", "sideways"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("Failed to convert 'sideways' to an appropriate cookie same site value"),
        "{}",
        stderr(&out)
    );
    let out = sesh_in(
        d,
        &[
            "--partition",
            "persist:c",
            "cookies",
            "set",
            "--url",
            "http://a.test/",
            "--name",
            "s",
            "--value",
            "1",
            "--secure",
        ],
    );
    assert!(
        stderr(&out).contains("secure cookie cannot be set from an insecure URL"),
        "{}",
        stderr(&out)
    );
    let out = sesh_in(
        d,
        &[
            "--partition",
            "persist:c",
            "cookies",
            "header",
            "--url",
            "https://a.test/",
        ],
    );
    assert_eq!(stdout(&out), "n=v\n");
    assert!(
        sesh_in(
            d,
            &[
                "--partition",
                "persist:c",
                "cookies",
                "remove",
                "--url",
                "https://a.test/",
                "--name",
                "n"
            ]
        )
        .status
        .success()
    );
    let out = sesh_in(
        d,
        &[
            "--partition",
            "persist:c",
            "cookies",
            "header",
            "--url",
            "https://a.test/",
        ],
    );
    assert_eq!(stdout(&out), "\n", "an empty line when no cookie goes");
}

#[test]
fn simulate_answers_in_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(
        tmp.path(),
        &[
            "cookies",
            "simulate",
            "--from",
            "https://login.example.test/auth",
            "--set-cookie",
            "session=1; Domain=example.test; Path=/",
            "--set-cookie",
            "local=2",
            "--set-cookie",
            "strict=3; SameSite=Strict; Domain=example.test",
            "--set-cookie",
            "broken=4; Domain=other.test",
            "--to",
            "https://app.example.test/home",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "session=1; strict=3\n");
    assert!(stderr(&out).contains("broken=4"), "{}", stderr(&out));
    // Nothing was written to the user-data directory.
    assert!(!tmp.path().join("sesh.db").exists());
}

#[test]
fn storage_clear_by_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = ["--partition", "persist:c"];
    let run = |args: &[&str]| {
        let mut all = p.to_vec();
        all.extend_from_slice(args);
        sesh_in(d, &all)
    };
    assert!(
        run(&[
            "cookies",
            "set-header",
            "--url",
            "https://a.test/",
            "x=1; Max-Age=600"
        ])
        .status
        .success()
    );
    assert!(
        run(&[
            "cookies",
            "set-header",
            "--url",
            "https://b.test/",
            "y=2; Max-Age=600"
        ])
        .status
        .success()
    );
    let out = run(&[
        "storage",
        "clear",
        "--origin",
        "https://a.test",
        "--storages",
        "cookies,localstorage",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&run(&["cookies", "header", "--url", "https://a.test/"])),
        "\n"
    );
    assert_eq!(
        stdout(&run(&["cookies", "header", "--url", "https://b.test/"])),
        "y=2\n"
    );
    let out = run(&["storage", "clear", "--storages", "cookies,cookiez"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"cookiez\""), "{}", stderr(&out));
    assert_eq!(
        stdout(&run(&["cookies", "header", "--url", "https://b.test/"])),
        "y=2\n",
        "nothing was cleared"
    );
}

#[test]
fn cache_size_and_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(tmp.path(), &["--partition", "persist:c", "cache", "size"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "0\n");
    assert!(
        sesh_in(tmp.path(), &["--partition", "persist:c", "cache", "clear"])
            .status
            .success()
    );
}

#[test]
fn storage_clear_data_by_registrable_domain_and_exclusion() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let run = |args: &[&str]| {
        let mut all = vec!["--partition", "persist:c"];
        all.extend_from_slice(args);
        sesh_in(d, &all)
    };
    for (url, cookie) in [
        ("https://www.a.test/", "x=1; Max-Age=600"),
        ("https://api.a.test/", "z=3; Max-Age=600"),
        ("https://b.test/", "y=2; Max-Age=600"),
    ] {
        let out = run(&["cookies", "set-header", "--url", url, cookie]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let header = |url| stdout(&run(&["cookies", "header", "--url", url]));
    // One origin of a.test clears all of a.test's cookies.
    let out = run(&[
        "storage",
        "clear-data",
        "--data-types",
        "cookies",
        "--origins",
        "https://www.a.test",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(header("https://api.a.test/"), "\n");
    assert_eq!(header("https://b.test/"), "y=2\n");
    let out = run(&[
        "storage",
        "clear-data",
        "--exclude-origins",
        "https://b.test",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(header("https://b.test/"), "y=2\n");
    let out = run(&["storage", "clear-data", "--origins", "nonsense"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Invalid origin: 'nonsense'"),
        "{}",
        stderr(&out)
    );
    let out = run(&["storage", "clear-data"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(header("https://b.test/"), "\n");
}
