//! Every vector of `shared/conformance/proxy/*.json`: Chromium's and
//! Electron's own test cases. Each test runs all the cases of one file and
//! lists every failure before failing.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use sesh_proxy_rules::{
    BadProxy, BypassRules, Error, PacOptions, PacScript, ProxyConfig, ProxyList, ProxyResolver,
    ProxyRules, ProxyScheme, ProxyServer, Url,
};

use crate::support::{Alerts, FakeResolver, LoopbackHttpFetcher, PacServer, clock_of, conformance};

fn cases<'a>(file: &'a Value, key: &str) -> &'a [Value] {
    file[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn id(case: &Value) -> &str {
    case["id"].as_str().unwrap_or("?")
}

fn report(file: &str, ran: usize, failures: Vec<String>) {
    assert!(ran > 0, "{file}: no case was run");
    assert!(
        failures.is_empty(),
        "{file}: {} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn strings(list: &ProxyList) -> Vec<String> {
    list.servers().iter().map(ToString::to_string).collect()
}

fn expected_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn proxy_uri_parse() {
    let file = conformance("proxy_uri_parse.json");
    let mut failures = Vec::new();
    let all = cases(&file, "cases");
    for case in all {
        let input = case["input"].as_str().unwrap();
        let default = match case["default_scheme"].as_str().unwrap_or("http") {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks4" | "socks" => ProxyScheme::Socks4,
            "socks5" => ProxyScheme::Socks5,
            other => panic!("unknown default scheme {other}"),
        };
        let as_server = case["as_server"].as_bool().unwrap_or(false);
        let parsed = ProxyServer::parse_uri(input, default, false)
            .ok()
            .filter(|s| !(as_server && s.is_direct()));
        let got = parsed.as_ref().map(ToString::to_string);
        let want = case["expect"].as_str().map(str::to_owned);
        if got != want {
            failures.push(format!(
                "{} {input:?}: got {got:?}, want {want:?}",
                id(case)
            ));
            continue;
        }
        if let (Some(server), Some(uri)) = (&parsed, case["canonical_uri"].as_str())
            && server.to_uri() != uri
        {
            failures.push(format!(
                "{} {input:?}: URI {}, want {uri}",
                id(case),
                server.to_uri()
            ));
        }
    }
    report("proxy_uri_parse.json", all.len(), failures);
}

#[test]
fn proxy_rules_parse() {
    let file = conformance("proxy_rules_parse.json");
    let mut failures = Vec::new();
    let all = cases(&file, "cases");
    for case in all {
        let rules = case["rules"].as_str().unwrap();
        let expect = &case["expect"];
        let parsed = ProxyRules::parse(rules);
        let ok = match (expect["type"].as_str().unwrap(), &parsed) {
            ("empty", ProxyRules::Empty) => true,
            ("single", ProxyRules::Single(list)) => {
                strings(list) == expected_list(&expect["single"])
            }
            (
                "per_scheme",
                ProxyRules::PerScheme {
                    http,
                    https,
                    ftp,
                    fallback,
                },
            ) => {
                strings(http) == expected_list(&expect["http"])
                    && strings(https) == expected_list(&expect["https"])
                    && strings(ftp) == expected_list(&expect["ftp"])
                    && strings(fallback) == expected_list(&expect["fallback"])
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} {rules:?}: got {parsed:?}, want {expect}",
                id(case)
            ));
        }
    }
    report("proxy_rules_parse.json", all.len(), failures);
}

#[test]
fn pac_string_parse() {
    let file = conformance("pac_string_parse.json");
    let mut failures = Vec::new();
    let all = cases(&file, "cases");
    for case in all {
        let input = case["input"].as_str().unwrap();
        let got = strings(&ProxyList::from_pac_string(input));
        let want = expected_list(&case["expect"]);
        if got != want {
            failures.push(format!(
                "{} {input:?}: got {got:?}, want {want:?}",
                id(case)
            ));
        }
        if case["element_valid"] == Value::Bool(false)
            && ProxyServer::parse_pac_element(input).is_ok()
        {
            failures.push(format!("{} {input:?}: accepted as a PAC element", id(case)));
        }
    }
    let deprioritize = cases(&file, "deprioritize_cases");
    for case in deprioritize {
        let list = ProxyList::from_pac_string(case["input"].as_str().unwrap());
        let bad: HashMap<ProxyServer, BadProxy> = case["bad"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let server =
                    ProxyServer::parse_uri(b["proxy"].as_str().unwrap(), ProxyScheme::Http, false)
                        .unwrap();
                (
                    server,
                    BadProxy {
                        try_while_bad: b["try_while_bad"].as_bool().unwrap(),
                    },
                )
            })
            .collect();
        let got = list.deprioritize(&bad).to_string();
        let want = case["expect"].as_str().unwrap();
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", id(case)));
        }
    }
    report(
        "pac_string_parse.json",
        all.len() + deprioritize.len(),
        failures,
    );
}

#[test]
fn bypass_rules() {
    let file = conformance("bypass_rules.json");
    let mut failures = Vec::new();
    let this_platform = if cfg!(windows) {
        "windows"
    } else {
        "non_windows"
    };
    let mut ran = 0;
    for case in cases(&file, "cases") {
        if let Some(platform) = case["platform"].as_str()
            && platform != this_platform
        {
            continue;
        }
        ran += 1;
        let rules = case["rules"].as_str().unwrap();
        let url = case["url"].as_str().unwrap();
        let got = Url::parse(url).is_ok_and(|u| BypassRules::parse(rules).matches(&u));
        if got != case["expect_bypass"].as_bool().unwrap() {
            failures.push(format!(
                "{} rules {rules:?} url {url}: bypass {got}",
                id(case)
            ));
        }
    }
    for case in cases(&file, "parse_cases") {
        ran += 1;
        let rule = case["rule"].as_str().unwrap();
        let got = BypassRules::parse_rule(rule).ok();
        let want = case["expect"].as_str().map(str::to_owned);
        if got != want {
            failures.push(format!(
                "{} rule {rule:?}: got {got:?}, want {want:?}",
                id(case)
            ));
        }
    }
    for case in cases(&file, "list_parse_cases") {
        ran += 1;
        let rules = case["rules"].as_str().unwrap();
        let parsed = BypassRules::parse(rules);
        if parsed.rules() != expected_list(&case["expect_rules"]) {
            failures.push(format!("{} {rules:?}: got {:?}", id(case), parsed.rules()));
        }
        if let Some(s) = case["expect_to_string"].as_str()
            && parsed.to_string() != s
        {
            failures.push(format!(
                "{} {rules:?}: to_string {:?}",
                id(case),
                parsed.to_string()
            ));
        }
    }
    report("bypass_rules.json", ran, failures);
}

/// A JS literal for a JSON argument (`{"$js": …}` stands for undefined or a
/// function).
fn js_literal(v: &Value) -> String {
    match v.get("$js").and_then(Value::as_str) {
        Some("undefined") => "undefined".into(),
        Some("function") => "(function () {})".into(),
        Some(other) => panic!("unknown $js {other}"),
        None => v.to_string(),
    }
}

fn pac_options(case: &Value, alerts: Arc<Alerts>) -> (PacOptions, Arc<FakeResolver>) {
    let resolver = Arc::new(FakeResolver::from_case(case.get("dns")));
    let mut options = PacOptions {
        resolver: resolver.clone(),
        observer: alerts,
        ..PacOptions::default()
    };
    if let Some(now) = case.get("now") {
        options.clock = Arc::new(clock_of(now));
    }
    (options, resolver)
}

#[test]
fn pac_helpers() {
    let file = conformance("pac_helpers.json");
    let mut failures = Vec::new();
    let all = cases(&file, "cases");
    for case in all {
        let f = case["fn"].as_str().unwrap();
        let args: Vec<String> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(js_literal)
            .collect();
        let call = format!("{f}({})", args.join(", "));
        // The call runs inside FindProxyForURL, which reports its value or
        // exception as JSON.
        let script = format!(
            "function FindProxyForURL(url, host) {{\n\
               try {{ var r = {call}; return JSON.stringify({{value: r === undefined ? {{undef: true}} : r}}); }}\n\
               catch (e) {{ return JSON.stringify({{thrown: String(e)}}); }}\n\
             }}"
        );
        let (options, resolver) = pac_options(case, Arc::new(Alerts::default()));
        let answer = PacScript::load(&script, options)
            .and_then(|pac| pac.find_proxy(&Url::parse("http://example.test/").unwrap()));
        let answer: Value = match answer {
            Ok(json) => serde_json::from_str(&json).unwrap(),
            Err(e) => {
                failures.push(format!("{} {call}: {e}", id(case)));
                continue;
            }
        };
        if let Some(want) = case.get("expect_throws") {
            if answer.get("thrown") != Some(want) {
                failures.push(format!(
                    "{} {call}: got {answer}, want a throw of {want}",
                    id(case)
                ));
            }
        } else if answer.get("value") != case.get("expect") {
            failures.push(format!(
                "{} {call}: got {answer}, want {}",
                id(case),
                case["expect"]
            ));
        }
        if let Some(queries) = case.get("expect_dns_queries") {
            let got = resolver.queries.lock().unwrap().clone();
            if got != expected_list(queries) {
                failures.push(format!(
                    "{} {call}: DNS queries {got:?}, want {queries}",
                    id(case)
                ));
            }
        }
    }
    report("pac_helpers.json", all.len(), failures);
}

fn check_resolution(pac: &PacScript, url: &str, want: &Value) -> Result<(), String> {
    let got = pac.find_proxy(&Url::parse(url).unwrap());
    match (got, want) {
        (Ok(answer), Value::String(want)) => {
            let list = ProxyList::from_pac_string(&answer).to_string();
            (list == *want)
                .then_some(())
                .ok_or(format!("{url}: got {list:?}, want {want:?}"))
        }
        (Err(Error::PacResolve { message, .. }), Value::Object(e)) => check_message(&message, e),
        (got, want) => Err(format!("{url}: got {got:?}, want {want}")),
    }
}

/// Messages of our own must match exactly; engine messages (`Uncaught
/// TypeError: …`) only by their error type, since V8's wording is V8's.
fn check_message(message: &str, expect: &serde_json::Map<String, Value>) -> Result<(), String> {
    let Some(want) = expect.get("message").and_then(Value::as_str) else {
        return Ok(());
    };
    let ok = if let Some(rest) = want.strip_prefix("Uncaught ") {
        let kind = rest.split(':').next().unwrap_or(rest);
        message.starts_with(&format!("Uncaught {kind}"))
    } else {
        message == want
    };
    ok.then_some(())
        .ok_or(format!("message {message:?}, want {want:?}"))
}

#[test]
fn pac_scripts() {
    let file = conformance("pac_scripts.json");
    let mut failures = Vec::new();
    let all = cases(&file, "cases");
    for case in all {
        let script = case["script"].as_str().unwrap();
        let alerts = Arc::new(Alerts::default());
        let (options, _) = pac_options(case, alerts.clone());
        let loaded = PacScript::load(script, options.clone());
        let expect = &case["expect"];
        if expect.get("phase").and_then(Value::as_str) == Some("load") {
            match loaded {
                Err(Error::PacLoad { message }) => {
                    if let Err(e) = check_message(&message, expect.as_object().unwrap()) {
                        failures.push(format!("{}: {e}", id(case)));
                    }
                }
                other => failures.push(format!("{}: loaded: {other:?}", id(case))),
            }
            continue;
        }
        let pac = match loaded {
            Ok(pac) => pac,
            Err(e) => {
                failures.push(format!("{}: {e}", id(case)));
                continue;
            }
        };
        let mut steps: Vec<(String, Value)> = Vec::new();
        if let Some(url) = case["url"].as_str() {
            steps.push((url.to_owned(), expect.clone()));
        }
        for call in cases(case, "calls") {
            steps.push((
                call["url"].as_str().unwrap().to_owned(),
                call["expect"].clone(),
            ));
        }
        for (url, want) in &steps {
            if let Err(e) = check_resolution(&pac, url, want) {
                failures.push(format!("{}: {e}", id(case)));
            }
        }
        if !cases(case, "reload_then").is_empty() {
            let again = PacScript::load(script, options).unwrap();
            for call in cases(case, "reload_then") {
                if let Err(e) =
                    check_resolution(&again, call["url"].as_str().unwrap(), &call["expect"])
                {
                    failures.push(format!("{} (reloaded): {e}", id(case)));
                }
            }
        }
        if let Some(want) = case.get("expect_alerts") {
            let got = alerts.0.lock().unwrap().clone();
            if got != expected_list(want) {
                failures.push(format!("{}: alerts {got:?}, want {want}", id(case)));
            }
        }
    }
    report("pac_scripts.json", all.len(), failures);
}

#[test]
fn resolve() {
    let file = conformance("resolve.json");
    let mut failures = Vec::new();
    let all = cases(&file, "cases");
    for case in all {
        let server = case["pac_script_text"].as_str().map(PacServer::start);
        let mut config = case["config"].clone();
        if let (Some(server), Some(obj)) = (&server, config.as_object_mut())
            && obj.get("pacScript").and_then(Value::as_str) == Some("{PAC_URL}")
        {
            obj.insert("pacScript".into(), Value::String(server.url.clone()));
        }
        let parsed: Result<ProxyConfig, _> = serde_json::from_value(config.clone());
        match (&case["expect_set_proxy"], parsed) {
            (Value::Object(e), Err(err)) => {
                let want = e["error"].as_str().unwrap();
                if !err.to_string().contains(want) {
                    failures.push(format!("{}: error {err}, want {want:?}", id(case)));
                }
                continue;
            }
            (Value::Object(_), Ok(c)) => {
                failures.push(format!("{}: accepted {c:?}", id(case)));
                continue;
            }
            (_, Err(err)) => {
                failures.push(format!("{}: refused {config}: {err}", id(case)));
                continue;
            }
            (_, Ok(parsed)) => {
                let resolver = ProxyResolver::new(Arc::new(LoopbackHttpFetcher));
                resolver.set_proxy(parsed);
                let mut steps = Vec::new();
                if case.get("steps").is_none()
                    && let Some(url) = case["url"].as_str()
                {
                    steps.push((url.to_owned(), case["expect"].as_str().unwrap().to_owned()));
                }
                for step in cases(case, "steps") {
                    if let Some(text) = step["serve_pac_script_text"].as_str() {
                        server.as_ref().unwrap().serve(text);
                    }
                    if step["call"].as_str() == Some("forceReloadProxyConfig") {
                        resolver.reload();
                    }
                    let got = resolver
                        .resolve(step["resolve"].as_str().unwrap())
                        .unwrap()
                        .to_string();
                    if got != step["expect"].as_str().unwrap() {
                        failures.push(format!(
                            "{} step: got {got:?}, want {}",
                            id(case),
                            step["expect"]
                        ));
                    }
                }
                for (url, want) in steps {
                    let got = resolver.resolve(&url).unwrap();
                    if got.to_string() != want {
                        failures.push(format!("{} {url}: got {got:?}, want {want:?}", id(case)));
                    }
                }
            }
        }
    }
    report("resolve.json", all.len(), failures);
}
