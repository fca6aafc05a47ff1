//! An impaired link between phones and the server: a TCP proxy that delays every byte by a
//! connection's latency, paces it to the connection's bandwidth, cuts some connections after a
//! random number of bytes (mid-request or mid-response), leaves some silent (nothing forwarded,
//! nothing answered) and duplicates what some send to the server. Each connection's fate is
//! drawn from a seeded generator in the order connections arrive; what the harness asserts never
//! depends on those draws, only what it measures does.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How bad the link is. Latency is one way; bandwidth is per connection and per direction.
#[derive(Debug, Clone)]
pub struct Impairment {
    pub latency_ms: RangeInclusive<u64>,
    pub kbit_per_s: RangeInclusive<u64>,
    /// Share of connections cut after a random number of bytes, in a random direction.
    pub cut: f64,
    /// The cut comes within this many bytes of the connection's start.
    pub cut_within: u64,
    /// Share of connections that go silent: accepted, never forwarded, never answered.
    pub silent: f64,
    /// Share of connections whose requests reach the server twice.
    pub duplicate: f64,
}

/// What went over the link, as the phones' radios would count it.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes delivered to the server (requests, headers included).
    pub up: AtomicU64,
    /// Bytes delivered to the phones.
    pub down: AtomicU64,
    pub connections: AtomicU64,
    pub cut: AtomicU64,
    pub silent: AtomicU64,
    pub duplicated: AtomicU64,
}

impl Impairment {
    /// A clean link: every byte forwarded at once, only counted.
    pub fn none() -> Impairment {
        Impairment {
            latency_ms: 0..=0,
            kbit_per_s: 0..=0,
            cut: 0.0,
            cut_within: 1,
            silent: 0.0,
            duplicate: 0.0,
        }
    }
}

impl Counters {
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }
}

/// A running proxy. Phones talk to [`Link::url`]; the server behind it can be swapped (a
/// restarted server listens on a new port) and the impairment switched off (the final clean
/// sync, still counted).
pub struct Link {
    pub url: String,
    pub counters: Arc<Counters>,
    upstream: Arc<Mutex<SocketAddr>>,
    impaired: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// One connection's fate.
#[derive(Debug, Clone, Copy)]
struct Plan {
    latency: Duration,
    bytes_per_s: u64,
    /// `(towards the server, after this many bytes)`.
    cut: Option<(bool, u64)>,
    silent: bool,
    duplicate: bool,
}

impl Link {
    pub async fn start(upstream: SocketAddr, impairment: Impairment, seed: u64) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the link");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let counters = Arc::new(Counters::default());
        let upstream = Arc::new(Mutex::new(upstream));
        let impaired = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn({
            let (counters, upstream, impaired) =
                (counters.clone(), upstream.clone(), impaired.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(seed);
                while let Ok((phone, _)) = listener.accept().await {
                    counters.connections.fetch_add(1, Ordering::Relaxed);
                    let plan = if impaired.load(Ordering::Relaxed) {
                        draw(&mut rng, &impairment)
                    } else {
                        Plan {
                            latency: Duration::ZERO,
                            bytes_per_s: 0,
                            cut: None,
                            silent: false,
                            duplicate: false,
                        }
                    };
                    let server = *upstream.lock().unwrap();
                    tokio::spawn(carry(phone, server, plan, counters.clone()));
                }
            }
        });
        Link {
            url,
            counters,
            upstream,
            impaired,
            task,
        }
    }

    /// Points the link at a (restarted) server.
    pub fn set_upstream(&self, server: SocketAddr) {
        *self.upstream.lock().unwrap() = server;
    }

    /// Turns the impairment off or on for connections opened from now on.
    pub fn set_impaired(&self, on: bool) {
        self.impaired.store(on, Ordering::Relaxed);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn draw(rng: &mut StdRng, impairment: &Impairment) -> Plan {
    let latency = Duration::from_millis(rng.random_range(impairment.latency_ms.clone()));
    let bytes_per_s = rng.random_range(impairment.kbit_per_s.clone()) * 1000 / 8;
    let cut = rng.random_bool(impairment.cut).then(|| {
        (
            rng.random_bool(0.5),
            rng.random_range(0..impairment.cut_within),
        )
    });
    let silent = rng.random_bool(impairment.silent);
    let duplicate = rng.random_bool(impairment.duplicate);
    Plan {
        latency,
        bytes_per_s,
        cut,
        silent,
        duplicate,
    }
}

/// Carries one phone connection to the server under its plan.
async fn carry(phone: TcpStream, address: SocketAddr, plan: Plan, counters: Arc<Counters>) {
    let (mut phone_read, phone_write) = phone.into_split();
    if plan.silent {
        counters.silent.fetch_add(1, Ordering::Relaxed);
        // Swallow whatever comes until the phone gives up.
        let mut sink = [0u8; 4096];
        while let Ok(n) = phone_read.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
        return;
    }
    let Ok(server) = TcpStream::connect(address).await else {
        return; // the server is down: the phone sees its connection closed
    };
    let (server_read, server_write) = server.into_split();
    let duplicate = if plan.duplicate {
        counters.duplicated.fetch_add(1, Ordering::Relaxed);
        TcpStream::connect(address).await.ok().map(|twin| {
            let (mut twin_read, twin_write) = twin.into_split();
            // The twin's answers go nowhere.
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while let Ok(n) = twin_read.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            });
            twin_write
        })
    } else {
        None
    };
    let cut_up = plan.cut.and_then(|(up, after)| up.then_some(after));
    let cut_down = plan.cut.and_then(|(up, after)| (!up).then_some(after));
    let up = pump(
        phone_read,
        server_write,
        duplicate,
        plan,
        cut_up,
        &counters.up,
    );
    let down = pump(
        server_read,
        phone_write,
        None,
        plan,
        cut_down,
        &counters.down,
    );
    // Whichever side ends first (a close, or the cut) ends the connection.
    let cut = tokio::select! {
        cut = up => cut,
        cut = down => cut,
    };
    if cut {
        counters.cut.fetch_add(1, Ordering::Relaxed);
    }
}

/// Moves bytes one way, each chunk delivered `latency` after it has been paced out at the
/// connection's bandwidth. Returns whether the connection was cut.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut twin: Option<OwnedWriteHalf>,
    plan: Plan,
    cut_after: Option<u64>,
    delivered: &AtomicU64,
) -> bool {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 1400];
        let mut sent_until = Instant::now();
        let mut total = 0u64;
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let mut chunk = buf[..n].to_vec();
            let cut = cut_after.is_some_and(|after| total + n as u64 > after);
            if let Some(after) = cut_after.filter(|_| cut) {
                chunk.truncate((after - total) as usize);
            }
            total += chunk.len() as u64;
            let pace = if plan.bytes_per_s == 0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(chunk.len() as f64 / plan.bytes_per_s as f64)
            };
            sent_until = sent_until.max(Instant::now()) + pace;
            if tx.send((sent_until + plan.latency, chunk)).is_err() {
                return cut;
            }
            if cut {
                return true;
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if chunk.is_empty() {
                continue;
            }
            if let Some(copy) = twin.as_mut()
                && copy.write_all(&chunk).await.is_err()
            {
                twin = None;
            }
            // Counted before it is written: once the receiver has read it, it is counted.
            delivered.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    let (cut, ()) = tokio::join!(reader, writer);
    cut
}
