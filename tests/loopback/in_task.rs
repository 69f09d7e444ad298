//! `ConnectionBuilder::connect_in_task`: the connection runs in the task that awaits its
//! future, with the very callbacks `connect` gives; a future dropped before it ran abandons
//! the connection without a callback, as its documentation says.

use crate::support::{within, Echoes, Greeter, Trace};
use tcpnotify::record::Recorded;
use tcpnotify::{TcpConnection, TcpListener};

/// The client's callbacks against an echo server, its connection started by `connect_in_task`
/// and awaited in this task, or by `connect` in a task of its own.
async fn client_callbacks(in_task: bool) -> String {
    let listener = TcpListener::listen(Echoes, "127.0.0.1", "0");
    let address = within("listening", listener.listening())
        .await
        .expect("listens");
    let port = address.port().to_string();
    let trace = Trace::new("client");
    trace.redact_port(address.port());
    let notify = Recorded::new(Greeter, "client", trace.sink());
    let builder = TcpConnection::builder();
    if in_task {
        let (conn, run) = builder.connect_in_task(notify, "127.0.0.1", &port);
        within("the connection's future", run).await;
        assert!(
            conn.is_finished(),
            "the future resolves once the connection ended"
        );
    } else {
        let conn = builder.connect(notify, "127.0.0.1", &port);
        within("connection finished", conn.finished()).await;
    }
    listener.dispose();
    trace.render(&["client"])
}

#[tokio::test]
async fn connect_in_task_gives_the_callbacks_connect_gives() {
    let spawned = client_callbacks(false).await;
    assert!(spawned.contains("closed"), "{spawned}");
    assert_eq!(client_callbacks(true).await, spawned);
}

#[tokio::test]
async fn connect_in_task_dropped_before_it_ran_abandons_the_connection_without_a_callback() {
    let trace = Trace::new("client");
    let notify = Recorded::new(Greeter, "client", trace.sink());
    let (conn, run) = TcpConnection::builder().connect_in_task(notify, "127.0.0.1", "9");
    drop(run);
    within("finished() after the drop", conn.finished()).await;
    assert_eq!(trace.lines_of("client"), Vec::<String>::new());
}
