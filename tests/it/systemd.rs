//! The systemd side (the built binary): the `sd_notify` protocol over a
//! real unix datagram socket, and the shipped unit's essentials.
use crate::support::audited::temp_dir;
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use scim_gateway::authn::static_token::hash_token_hex;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// The next datagram, as text (fails after a generous bound).
fn next(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the bound");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ready_reloading_and_stopping_reach_the_notify_socket() {
    let dir = temp_dir("sd-notify");
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\ndrain_delay = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[audit]\nenabled = false\n[upstreams.store]\nkind = \"builtin\"\n[[tenants]]\nid = \"acme\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{}\"\n",
            hash_token_hex(&token_for("acme"))
        ),
    )
    .unwrap();
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let mut gw = GatewayProcess::spawn_with_env(&config, &[("NOTIFY_SOCKET", path.as_os_str())]);
    assert_eq!(next(&socket), "READY=1", "{}", gw.log_tail());
    // READY=1 means serving: the listener accepts.
    assert!(std::net::TcpStream::connect(gw.public).is_ok());

    gw.signal("-HUP");
    assert_eq!(next(&socket), "RELOADING=1");
    assert_eq!(next(&socket), "READY=1");

    assert_eq!(
        gw.terminate(Duration::from_secs(20)),
        Some(true),
        "{}",
        gw.log_tail()
    );
    assert_eq!(next(&socket), "STOPPING=1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_unit_is_notify_reloads_by_sighup_and_is_sandboxed() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/systemd/scim-gateway.service"),
    )
    .unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "RestartPreventExitStatus=78",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "ReadWritePaths=/var/lib/scim-gateway",
    ] {
        assert!(lines.contains(&want), "the unit lacks {want}");
    }
    // The stop timeout covers the default drain delay and shutdown timeout.
    assert!(lines.contains(&"TimeoutStopSec=40s"));
}
