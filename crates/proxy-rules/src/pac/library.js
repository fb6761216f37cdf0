// The PAC helpers that are written in JavaScript. They run before the PAC
// script, so a script that defines its own version of one overrides it.
// shExpMatch is native (its plain globs need no regular expression) and
// isInNet calls native code when its arguments are strings; odd arguments
// take the generic paths below, so that they behave exactly as they do in
// browsers. A native call costs more than a few JavaScript operations, so
// the cheap helpers stay in JavaScript.

function dnsDomainIs(host, domain) {
  if (typeof host === 'string' && typeof domain === 'string') {
    return host.endsWith(domain);
  }
  return host.length >= domain.length &&
    host.substring(host.length - domain.length) == domain;
}

function isPlainHostName(host) {
  if (typeof host !== 'string') throw new TypeError('Requires 1 string parameter');
  return host.indexOf('.') < 0;
}

function dnsDomainLevels(host) {
  return host.split('.').length - 1;
}

function localHostOrDomainIs(host, hostdom) {
  return host == hostdom || hostdom.lastIndexOf(host + '.', 0) == 0;
}

function isResolvable(host) {
  return dnsResolve(host) != null;
}

function isResolvableEx(host) {
  return dnsResolveEx(host) != '';
}

var __sesh_dotted = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function __sesh_isDotted(s) {
  var m = __sesh_dotted.exec(s);
  return m != null && !(m[1] > 255 || m[2] > 255 || m[3] > 255 || m[4] > 255);
}

function __sesh_addr(s) {
  var b = s.split('.');
  return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) |
    ((b[2] & 0xff) << 8) | (b[3] & 0xff);
}

function isInNet(ipaddr, pattern, maskstr) {
  if (typeof ipaddr === 'string' && typeof pattern === 'string' &&
      typeof maskstr === 'string') {
    return __sesh_isInNet(ipaddr, pattern, maskstr);
  }
  if (!__sesh_isDotted(pattern) || !__sesh_isDotted(maskstr)) return false;
  if (!__sesh_isDotted(ipaddr)) {
    ipaddr = dnsResolve(ipaddr);
    if (ipaddr == null) return false;
  }
  var mask = __sesh_addr(maskstr);
  return (__sesh_addr(ipaddr) & mask) == (__sesh_addr(pattern) & mask);
}

function __sesh_shExpMatchRegExp(url, pattern) {
  pattern = pattern.replace(/\./g, '\\.');
  pattern = pattern.replace(/\*/g, '.*');
  pattern = pattern.replace(/\?/g, '.');
  return new RegExp('^' + pattern + '$').test(url);
}

var __sesh_days = {SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6};
var __sesh_months = {JAN: 0, FEB: 1, MAR: 2, APR: 3, MAY: 4, JUN: 5, JUL: 6,
                     AUG: 7, SEP: 8, OCT: 9, NOV: 10, DEC: 11};

function __sesh_lookup(table, key) {
  return (key in table) ? table[key] : -1;
}

// Rewrites `d` so that its local fields read what its UTC fields read.
function __sesh_asUtc(d) {
  d.setFullYear(d.getUTCFullYear());
  d.setMonth(d.getUTCMonth());
  d.setDate(d.getUTCDate());
  d.setHours(d.getUTCHours());
  d.setMinutes(d.getUTCMinutes());
  d.setSeconds(d.getUTCSeconds());
  return d;
}

function __sesh_within(lo, hi, x) {
  return (lo <= hi) ? (lo <= x && x <= hi) : (hi >= x || x >= lo);
}

function weekdayRange() {
  var now = __sesh_now();
  var argc = arguments.length;
  if (argc < 1) return false;
  var today;
  if (arguments[argc - 1] == 'GMT') {
    argc--;
    today = now.getUTCDay();
  } else {
    today = now.getDay();
  }
  var from = __sesh_lookup(__sesh_days, arguments[0]);
  var to = (argc == 2) ? __sesh_lookup(__sesh_days, arguments[1]) : from;
  if (from == -1 || to == -1) return false;
  return __sesh_within(from, to, today);
}

function dateRange() {
  var now = __sesh_now();
  var argc = arguments.length;
  if (argc < 1) return false;
  var gmt = arguments[argc - 1] == 'GMT';
  if (gmt) argc--;
  if (argc == 1) {
    var n = parseInt(arguments[0]);
    if (isNaN(n)) {
      return (gmt ? now.getUTCMonth() : now.getMonth()) ==
        __sesh_lookup(__sesh_months, arguments[0]);
    }
    if (n < 32) return (gmt ? now.getUTCDate() : now.getDate()) == n;
    return (gmt ? now.getUTCFullYear() : now.getFullYear()) == n;
  }
  var year = now.getFullYear();
  var from = new Date(year, 0, 1, 0, 0, 0);
  var to = new Date(year, 11, 31, 23, 59, 59);
  var sameMonth = false;
  var half = argc >> 1;
  for (var i = 0; i < argc; i++) {
    var d = (i < half) ? from : to;
    var v = parseInt(arguments[i]);
    if (isNaN(v)) {
      d.setMonth(__sesh_lookup(__sesh_months, arguments[i]));
    } else if (v < 32) {
      if (i < half) sameMonth = (argc <= 2);
      d.setDate(v);
    } else {
      d.setFullYear(v);
    }
  }
  if (sameMonth) {
    from.setMonth(now.getMonth());
    to.setMonth(now.getMonth());
  }
  if (gmt) now = __sesh_asUtc(now);
  return __sesh_within(from, to, now);
}

function timeRange() {
  var argc = arguments.length;
  var now = __sesh_now();
  if (argc < 1) return false;
  var gmt = false;
  if (arguments[argc - 1] == 'GMT') {
    gmt = true;
    argc--;
  }
  var hour = gmt ? now.getUTCHours() : now.getHours();
  if (argc == 1) return hour == arguments[0];
  if (argc == 2) return arguments[0] <= hour && hour <= arguments[1];
  var from = __sesh_now();
  var to = __sesh_now();
  if (argc == 6) {
    from.setSeconds(arguments[2]);
    to.setSeconds(arguments[5]);
  } else if (argc != 4) {
    throw 'timeRange: bad number of arguments';
  }
  var middle = argc >> 1;
  from.setHours(arguments[0]);
  from.setMinutes(arguments[1]);
  to.setHours(arguments[middle]);
  to.setMinutes(arguments[middle + 1]);
  if (middle == 2) to.setSeconds(59);
  if (gmt) now = __sesh_asUtc(now);
  return __sesh_within(from, to, now);
}

function __sesh_now() {
  var t = __sesh_clock();
  return t.length == 1 ? new Date(t[0]) : new Date(t[0], t[1], t[2], t[3], t[4], t[5]);
}
