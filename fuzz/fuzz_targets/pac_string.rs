//! PAC result strings parse without panicking, never to an empty list, and
//! the printed list parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesh_proxy_rules::ProxyList;

fuzz_target!(|pac: &str| {
    let list = ProxyList::from_pac_string(pac);
    assert!(!list.is_empty());
    let printed = list.to_string();
    assert_eq!(ProxyList::from_pac_string(&printed), list, "{printed:?}");
});
