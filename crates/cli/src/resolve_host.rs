//! `sesh resolve-host`: what `ses.resolveHost(host, options)` answers.

use std::net::SocketAddr;
use std::process::ExitCode;

use sesh::Session;
use sesh::net::{
    CacheUsage, HostResolverConfig, HostResolverSource, QueryType, ResolveHostOptions,
    SecureDnsPolicy,
};

/// Arguments of `sesh resolve-host`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// queryType: A or AAAA (default: both families).
    #[arg(long = "type", value_name = "A|AAAA")]
    query_type: Option<QueryType>,
    /// source: any, system, dns, mdns or localOnly.
    #[arg(long, value_name = "S", default_value = "any")]
    source: HostResolverSource,
    /// cacheUsage: allowed, staleAllowed or disallowed.
    #[arg(long, value_name = "U", default_value = "allowed")]
    cache_usage: CacheUsage,
    /// secureDnsPolicy: allow or disable (the same in sesh, which has no
    /// secure DNS).
    #[arg(long, value_name = "P", default_value = "allow")]
    secure_dns_policy: SecureDnsPolicy,
    /// Ask this DNS server (ip:port; repeat for more) instead of the
    /// system's.
    #[arg(long = "dns-server", value_name = "ADDR")]
    dns_servers: Vec<SocketAddr>,
    /// Print Electron's ResolvedHost as JSON.
    #[arg(long)]
    json: bool,
    /// The host name (or IP literal).
    host: String,
}

/// Runs `sesh resolve-host`: the endpoints one a line (`address family`),
/// or the net error on stderr and exit status 1.
pub(crate) fn run(ses: &Session, args: &Args) -> anyhow::Result<ExitCode> {
    if !args.dns_servers.is_empty() {
        ses.configure_host_resolver(HostResolverConfig {
            nameservers: args.dns_servers.clone(),
        });
    }
    let options = ResolveHostOptions {
        query_type: args.query_type,
        source: args.source,
        cache_usage: args.cache_usage,
        secure_dns_policy: args.secure_dns_policy,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(ses.resolve_host(&args.host, &options)) {
        Ok(found) if args.json => {
            println!("{}", serde_json::to_string(&found)?);
            Ok(ExitCode::SUCCESS)
        }
        Ok(found) => {
            for endpoint in &found.endpoints {
                let family = serde_json::to_value(endpoint.family)?;
                println!("{} {}", endpoint.address, family.as_str().unwrap_or("?"));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {}", e.error, e.detail);
            Ok(ExitCode::FAILURE)
        }
    }
}
