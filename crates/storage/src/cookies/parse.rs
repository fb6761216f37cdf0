//! Set-Cookie lines and cookie dates, parsed as Chromium parses them.

/// The most bytes a cookie's name and value may have together.
pub const MAX_NAME_VALUE_BYTES: usize = 4096;
/// The most bytes an attribute value may have; longer ones are ignored.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;

/// The SameSite attribute as written in a Set-Cookie line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SameSiteAttr {
    Strict,
    Lax,
    None,
    /// Absent or not one of the three.
    Unspecified,
}

/// A Set-Cookie line, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedCookie<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) domain: Option<&'a str>,
    pub(crate) path: Option<&'a str>,
    pub(crate) expires: Option<&'a str>,
    pub(crate) max_age: Option<&'a str>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSiteAttr,
}

/// Spaces and tabs, what Chromium trims around names, values and attributes.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn has_ctl(s: &str) -> bool {
    s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// Parses one Set-Cookie line.
///
/// Like Chromium: the line ends at the first CR, LF or NUL; a first pair
/// without `=` is a value with an empty name; names and values are trimmed
/// of spaces and tabs (quotes are kept); a cookie with neither name nor
/// value, with control characters, or with name and value over 4096 bytes
/// is refused; attribute names are case-insensitive, later attributes win,
/// attribute values over 1024 bytes are ignored.
pub(crate) fn parse_cookie_line(line: &str) -> Result<ParsedCookie<'_>, &'static str> {
    let end = line
        .bytes()
        .position(|b| b == b'\r' || b == b'\n' || b == 0)
        .unwrap_or(line.len());
    let line = &line[..end];
    let mut parts = line.split(';');
    let first = parts.next().unwrap_or("");
    let (name, value) = match first.find('=') {
        Some(i) => (trim(&first[..i]), trim(&first[i + 1..])),
        None => ("", trim(first)),
    };
    if name.is_empty() && value.is_empty() {
        return Err("the cookie has neither a name nor a value");
    }
    if has_ctl(name) || has_ctl(value) {
        return Err("the cookie's name or value has a control character");
    }
    if name.len() + value.len() > MAX_NAME_VALUE_BYTES {
        return Err("the cookie's name and value are longer than 4096 bytes");
    }
    let mut cookie = ParsedCookie {
        name,
        value,
        domain: None,
        path: None,
        expires: None,
        max_age: None,
        secure: false,
        http_only: false,
        same_site: SameSiteAttr::Unspecified,
    };
    for attr in parts {
        let (key, val) = match attr.find('=') {
            Some(i) => (trim(&attr[..i]), trim(&attr[i + 1..])),
            None => (trim(attr), ""),
        };
        if val.len() > MAX_ATTRIBUTE_VALUE_BYTES || has_ctl(val) {
            continue;
        }
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if is("domain") {
            cookie.domain = Some(val);
        } else if is("path") {
            cookie.path = Some(val);
        } else if is("expires") {
            cookie.expires = Some(val);
        } else if is("max-age") {
            cookie.max_age = Some(val);
        } else if is("secure") {
            cookie.secure = true;
        } else if is("httponly") {
            cookie.http_only = true;
        } else if is("samesite") {
            cookie.same_site = if val.eq_ignore_ascii_case("strict") {
                SameSiteAttr::Strict
            } else if val.eq_ignore_ascii_case("lax") {
                SameSiteAttr::Lax
            } else if val.eq_ignore_ascii_case("none") {
                SameSiteAttr::None
            } else {
                SameSiteAttr::Unspecified
            };
        }
    }
    Ok(cookie)
}

/// Parses a cookie date (RFC 6265 section 5.1.1, as browsers do), returning
/// seconds since the Unix epoch.
pub(crate) fn parse_cookie_date(s: &str) -> Option<i64> {
    let is_delim = |c: char| {
        c == '\t'
            || (' '..='/').contains(&c)
            || (';'..='@').contains(&c)
            || ('['..='`').contains(&c)
            || ('{'..='~').contains(&c)
    };
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in s.split(is_delim).filter(|t| !t.is_empty()) {
        if time.is_none()
            && let Some(t) = parse_time(token)
        {
            time = Some(t);
            continue;
        }
        if day.is_none()
            && let Some(d) = leading_digits(token, 1, 2)
        {
            day = Some(d);
            continue;
        }
        if month.is_none() && token.len() >= 3 {
            let m = match token[..3].to_ascii_lowercase().as_str() {
                "jan" => Some(1),
                "feb" => Some(2),
                "mar" => Some(3),
                "apr" => Some(4),
                "may" => Some(5),
                "jun" => Some(6),
                "jul" => Some(7),
                "aug" => Some(8),
                "sep" => Some(9),
                "oct" => Some(10),
                "nov" => Some(11),
                "dec" => Some(12),
                _ => None,
            };
            if m.is_some() {
                month = m;
                continue;
            }
        }
        if year.is_none()
            && let Some(y) = leading_digits(token, 2, 4)
        {
            year = Some(y);
        }
    }
    let (h, mi, sec) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    if !(1..=31).contains(&day) || year < 1601 || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec))
}

/// `min..=max` digits at the start of `token`, followed by no more digits.
fn leading_digits(token: &str, min: usize, max: usize) -> Option<u32> {
    let n = token.bytes().take_while(u8::is_ascii_digit).count();
    (min..=max).contains(&n).then(|| token[..n].parse().ok())?
}

/// `hh:mm:ss` (one or two digits each) at the start of `token`.
fn parse_time(token: &str) -> Option<(u32, u32, u32)> {
    let mut parts = token.splitn(3, ':');
    let h = leading_digits(parts.next()?, 1, 2)?;
    let m = leading_digits(parts.next()?, 1, 2)?;
    let s = leading_digits(parts.next()?, 1, 2)?;
    Some((h, m, s))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let c = parse_cookie_line(
            " a = b ; Path=/x; secure; HttpOnly; SameSite=STRICT; domain=.Example.com",
        )
        .unwrap();
        assert_eq!((c.name, c.value), ("a", "b"));
        assert_eq!(c.path, Some("/x"));
        assert!(c.secure && c.http_only);
        assert_eq!(c.same_site, SameSiteAttr::Strict);
        assert_eq!(c.domain, Some(".Example.com"));
        let v = parse_cookie_line("justavalue").unwrap();
        assert_eq!((v.name, v.value), ("", "justavalue"));
        assert!(parse_cookie_line("=").is_err());
        assert!(parse_cookie_line("a=b\u{1}c").is_err());
        assert_eq!(
            parse_cookie_line("a=b\r\nSet-Cookie: evil=1")
                .unwrap()
                .value,
            "b"
        );
        let q = parse_cookie_line("a=\"quoted\"").unwrap();
        assert_eq!(q.value, "\"quoted\"");
        assert!(parse_cookie_line(&format!("a={}", "x".repeat(4096))).is_err());
        assert!(parse_cookie_line(&format!("a={}", "x".repeat(4095))).is_ok());
        let long_line = format!("a=b; Path=/{}", "p".repeat(1024));
        let long = parse_cookie_line(&long_line).unwrap();
        assert_eq!(long.path, None, "an over-long attribute is ignored");
        assert_eq!(
            parse_cookie_line("a=b; SameSite=weird").unwrap().same_site,
            SameSiteAttr::Unspecified
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_cookie_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(
            parse_cookie_date("Wednesday, 21-Oct-15 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_cookie_date("21 Oct 99 07:28:00"), Some(940_490_880));
        assert_eq!(parse_cookie_date("Feb 30 2015 00:00:00"), None);
        assert_eq!(parse_cookie_date("garbage"), None);
        assert_eq!(parse_cookie_date("Wed, 21 Oct 2015 25:28:00 GMT"), None);
    }
}
