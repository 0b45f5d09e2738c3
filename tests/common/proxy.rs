//! A TCP forwarder between the app and PostgreSQL that a test can cut and restore, to make the
//! database "go away" for one app without disturbing the shared server or other tests.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// Whether the proxy forwards, and the sockets it forwards on. One lock for both, so that a
/// connection being set up while the proxy is cut cannot slip through.
#[derive(Default)]
struct State {
    down: bool,
    live: Vec<TcpStream>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target` while up.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(mut state) = shared.lock() else { return };
                // Down: accept and hang up at once, like a server that is not there.
                let server = if state.down {
                    None
                } else {
                    TcpStream::connect(target).ok()
                };
                let Some(server) = server else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    state.live.push(c2);
                    state.live.push(s2);
                }
                drop(state);
                pump(client, server);
            }
        });
        Proxy { addr, state }
    }

    /// Drops every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        let mut state = self.state.lock().expect("proxy state");
        state.down = true;
        for s in state.live.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.state.lock().expect("proxy state").down = false;
    }
}

fn pump(client: TcpStream, server: TcpStream) {
    let pairs = [
        (client.try_clone(), server.try_clone()),
        (server.try_clone(), client.try_clone()),
    ];
    for (from, to) in pairs {
        if let (Ok(mut from), Ok(mut to)) = (from, to) {
            thread::spawn(move || {
                let _ = io::copy(&mut from, &mut to);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
            });
        }
    }
}
