//! The PAC helpers written in Rust.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use rquickjs::function::{Opt, Rest};
use rquickjs::{Coerced, Ctx, Function, IntoJs, Value};

use super::{PacTime, Shared};
use crate::bypass::{ip_matches_prefix, parse_cidr};
use crate::resolver::DnsOp;

/// A helper's answer: `null`, a boolean or a string.
enum Answer {
    Null,
    Bool(bool),
    Str(String),
}

impl<'js> IntoJs<'js> for Answer {
    fn into_js(self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        match self {
            Answer::Null => Ok(Value::new_null(ctx.clone())),
            Answer::Bool(b) => b.into_js(ctx),
            Answer::Str(s) => s.into_js(ctx),
        }
    }
}

pub(super) fn register<'js>(ctx: &Ctx<'js>, shared: &Arc<Shared>) -> rquickjs::Result<()> {
    let g = ctx.globals();

    let s = shared.clone();
    g.set(
        "alert",
        Function::new(ctx.clone(), move |msg: Coerced<String>| {
            s.observer.alert(&msg.0)
        })?,
    )?;

    let s = shared.clone();
    g.set(
        "dnsResolve",
        Function::new(ctx.clone(), move |args: Rest<Value<'_>>| {
            let answer = first_string(&args)
                .and_then(|h| hostname_argument(&h))
                .and_then(|h| first_v4(&s, &h, DnsOp::DnsResolve));
            answer.map_or(Answer::Null, Answer::Str)
        })?,
    )?;

    let s = shared.clone();
    g.set(
        "dnsResolveEx",
        Function::new(
            ctx.clone(),
            move |args: Rest<Value<'_>>| match first_string(&args)
                .and_then(|h| hostname_argument(&h))
            {
                Some(h) => Answer::Str(all_addresses(&s, &h, DnsOp::DnsResolveEx)),
                None => Answer::Null,
            },
        )?,
    )?;

    let s = shared.clone();
    g.set(
        "myIpAddress",
        Function::new(ctx.clone(), move || {
            first_v4(&s, "", DnsOp::MyIpAddress).unwrap_or_else(|| "127.0.0.1".to_owned())
        })?,
    )?;

    let s = shared.clone();
    g.set(
        "myIpAddressEx",
        Function::new(ctx.clone(), move || {
            all_addresses(&s, "", DnsOp::MyIpAddressEx)
        })?,
    )?;

    g.set(
        "isInNetEx",
        Function::new(ctx.clone(), |args: Rest<Value<'_>>| {
            let (Some(ip), Some(prefix)) = (string_arg(&args, 0), string_arg(&args, 1)) else {
                return Answer::Null;
            };
            Answer::Bool(match (ip.parse::<IpAddr>(), parse_cidr(&prefix)) {
                (Ok(ip), Some((prefix, len))) => ip_matches_prefix(ip, prefix, len),
                _ => false,
            })
        })?,
    )?;

    g.set(
        "sortIpAddressList",
        Function::new(ctx.clone(), |args: Rest<Value<'_>>| {
            match first_string(&args) {
                Some(list) if list.is_ascii() => {
                    sort_ip_address_list(&list).map_or(Answer::Bool(false), Answer::Str)
                }
                _ => Answer::Null,
            }
        })?,
    )?;

    g.set("getClientVersion", Function::new(ctx.clone(), || "1.0")?)?;

    let s = shared.clone();
    g.set(
        "__sesh_isInNet",
        Function::new(
            ctx.clone(),
            Raw(
                move |params: &rquickjs::function::Params<'_, 'js>| -> rquickjs::Result<Value<'js>> {
                    is_in_net_native(&s, params)
                },
            ),
        )?,
    )?;

    g.set("shExpMatch", Function::new(ctx.clone(), Raw(sh_exp_match))?)?;

    let s = shared.clone();
    g.set(
        "__sesh_clock",
        Function::new(ctx.clone(), move || -> Vec<f64> {
            match s.clock.now() {
                PacTime::Instant(t) => {
                    let ms = match t.duration_since(UNIX_EPOCH) {
                        Ok(d) => d.as_millis() as f64,
                        Err(e) => -(e.duration().as_millis() as f64),
                    };
                    vec![ms]
                }
                PacTime::Local {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                } => vec![
                    f64::from(year),
                    f64::from(month) - 1.0,
                    f64::from(day),
                    f64::from(hour),
                    f64::from(minute),
                    f64::from(second),
                ],
            }
        })?,
    )?;
    Ok(())
}

/// Calls the generic JavaScript version of a helper (`__sesh_NAME`).
fn generic<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    a: Opt<Value<'js>>,
    b: Opt<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let f: Function<'js> = ctx.globals().get(name)?;
    let undefined = || Value::new_undefined(ctx.clone());
    f.call((a.0.unwrap_or_else(undefined), b.0.unwrap_or_else(undefined)))
}

/// A native that reads its arguments straight from the call rather than
/// through rquickjs' typed parameters (a context clone and a conversion
/// an argument fewer): for the helpers a PAC script calls many times a
/// URL.
struct Raw<F>(F);

impl<'js, F> rquickjs::function::IntoJsFunc<'js, Raw<()>> for Raw<F>
where
    F: for<'a> Fn(&rquickjs::function::Params<'a, 'js>) -> rquickjs::Result<Value<'js>> + 'js,
{
    fn param_requirements() -> rquickjs::function::ParamRequirement {
        rquickjs::function::ParamRequirement::any()
    }

    fn call<'a>(
        &self,
        params: rquickjs::function::Params<'a, 'js>,
    ) -> rquickjs::Result<Value<'js>> {
        (self.0)(&params)
    }
}

/// Argument `i` as UTF-8 text, when it is a string.
fn text_arg<'js>(
    params: &rquickjs::function::Params<'_, 'js>,
    i: usize,
) -> Option<rquickjs::CString<'js>> {
    params.arg(i)?.into_string()?.to_cstring().ok()
}

/// `isInNet` for three strings (the JavaScript `isInNet` checks the
/// types).
fn is_in_net_native<'js>(
    shared: &Shared,
    params: &rquickjs::function::Params<'_, 'js>,
) -> rquickjs::Result<Value<'js>> {
    let answer = match (
        text_arg(params, 0),
        text_arg(params, 1),
        text_arg(params, 2),
    ) {
        (Some(ip), Some(pattern), Some(mask)) => {
            is_in_net(shared, ip.as_str(), pattern.as_str(), mask.as_str())
        }
        _ => false,
    };
    Ok(Value::new_bool(params.ctx().clone(), answer))
}

/// `shExpMatch(str, pattern)`: the pattern as Chromium's regular
/// expression; plain globs are matched natively.
fn sh_exp_match<'js>(params: &rquickjs::function::Params<'_, 'js>) -> rquickjs::Result<Value<'js>> {
    if let (Some(t), Some(p)) = (text_arg(params, 0), text_arg(params, 1))
        && let Some(m) = sh_exp_match_fast(t.as_str(), p.as_str())
    {
        return Ok(Value::new_bool(params.ctx().clone(), m));
    }
    generic(
        params.ctx(),
        "__sesh_shExpMatchRegExp",
        Opt(params.arg(0)),
        Opt(params.arg(1)),
    )
}

fn string_arg(args: &Rest<Value<'_>>, i: usize) -> Option<String> {
    args.0.get(i)?.as_string()?.to_string().ok()
}

fn first_string(args: &Rest<Value<'_>>) -> Option<String> {
    string_arg(args, 0)
}

/// The host name as Chromium passes it to the resolver: ASCII as it is,
/// anything else converted to punycode.
fn hostname_argument(host: &str) -> Option<String> {
    if host.is_ascii() {
        return Some(host.to_owned());
    }
    idna::domain_to_ascii(host).ok()
}

fn lookup(shared: &Shared, host: &str, op: DnsOp) -> Vec<IpAddr> {
    shared.resolver.resolve(host, op).unwrap_or_default()
}

fn first_v4(shared: &Shared, host: &str, op: DnsOp) -> Option<String> {
    lookup(shared, host, op)
        .into_iter()
        .find(IpAddr::is_ipv4)
        .map(|ip| ip.to_string())
}

fn all_addresses(shared: &Shared, host: &str, op: DnsOp) -> String {
    lookup(shared, host, op)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

/// `a.b.c.d` with one to three digits each, none above 255.
fn dotted(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for slot in &mut out {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = u8::try_from(part.parse::<u16>().ok()?).ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn is_in_net(shared: &Shared, ip: &str, pattern: &str, mask: &str) -> bool {
    let (Some(pattern), Some(mask)) = (dotted(pattern), dotted(mask)) else {
        return false;
    };
    let ip = match dotted(ip) {
        Some(ip) => ip,
        None => match first_v4(shared, ip, DnsOp::DnsResolve).and_then(|s| dotted(&s)) {
            Some(ip) => ip,
            None => return false,
        },
    };
    let (ip, pattern, mask) = (
        u32::from_be_bytes(ip),
        u32::from_be_bytes(pattern),
        u32::from_be_bytes(mask),
    );
    ip & mask == pattern & mask
}

/// `shExpMatch` for the patterns whose regular expression is a plain glob:
/// ASCII text and a pattern with no regular-expression syntax other than
/// the `.`, `*` and `?` that shExpMatch rewrites. `None`: use the regular
/// expression.
fn sh_exp_match_fast(text: &str, pattern: &str) -> Option<bool> {
    // One pass over the pattern: ASCII, and nothing the regular
    // expression would read differently from a glob.
    let plain = pattern.bytes().all(|b| {
        !matches!(
            b,
            b'\\' | b'^' | b'$' | b'+' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'|' | 0x80..
        )
    });
    if !plain || !text.is_ascii() {
        return None;
    }
    Some(glob(text.as_bytes(), pattern.as_bytes()))
}

/// `*`: any run of characters but line terminators (the regular
/// expression's `.*`); `?`: exactly one such character (`.`).
fn glob(text: &[u8], pattern: &[u8]) -> bool {
    let wild = |b: u8| b != b'\n' && b != b'\r';
    // Iterative matching with one backtrack point (the last '*').
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') if wild(text[t]) => {
                t += 1;
                p += 1;
                continue;
            }
            Some(&c) if c != b'?' && c == text[t] => {
                t += 1;
                p += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) if wild(text[st]) => {
                star = Some((sp, st + 1));
                p = sp + 1;
                t = st + 1;
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn sort_ip_address_list(list: &str) -> Option<String> {
    let cleaned: String = list.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut ips = Vec::new();
    for token in cleaned.split(';').filter(|t| !t.is_empty()) {
        ips.push(token.parse::<IpAddr>().ok()?);
    }
    if ips.is_empty() {
        return None;
    }
    // IPv6 first, then IPv4, each in ascending numeric order.
    ips.sort_by(|a, b| match (a, b) {
        (IpAddr::V6(_), IpAddr::V4(_)) => std::cmp::Ordering::Less,
        (IpAddr::V4(_), IpAddr::V6(_)) => std::cmp::Ordering::Greater,
        (a, b) => a.cmp(b),
    });
    Some(
        ips.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(";"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob(b"foo.jpg", b"*.jpg"));
        assert!(!glob(b"foo.jpg", b".jpg"));
        assert!(glob(b"abc", b"a?c"));
        assert!(!glob(b"ac", b"a?c"));
        assert!(glob(b"", b"*"));
        assert!(!glob(b"a\nb", b"a*b"));
        assert!(glob(b"http://www.example.com/x", b"http://*.example.com/*"));
        assert!(glob(b"aaa", b"*a*a*a*"));
        assert!(!glob(b"aa", b"*a*a*a*"));
    }

    #[test]
    fn dotted_quads() {
        assert_eq!(dotted("192.168.1.1"), Some([192, 168, 1, 1]));
        assert_eq!(dotted("010.1.1.1"), Some([10, 1, 1, 1]));
        assert_eq!(dotted("256.1.1.1"), None);
        assert_eq!(dotted("1.1.1"), None);
        assert_eq!(dotted("1.1.1.1.1"), None);
    }
}
