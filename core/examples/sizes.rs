//! Prints the sizes of the connection state (the caller's buffers not included).
//!
//! Run: `cargo run -p wsgiref --example sizes`

#![allow(missing_docs)]

use core::mem::size_of;

use wsgiref::{Connection, Environ, Exchange};

fn main() {
    let rows = [
        (
            "Connection<'static, 32>",
            size_of::<Connection<'static, 32>>(),
        ),
        (
            "Connection<'static, 8>",
            size_of::<Connection<'static, 8>>(),
        ),
        ("Exchange<'static>", size_of::<Exchange<'static>>()),
        ("Environ<'static>", size_of::<Environ<'static>>()),
    ];
    println!("target pointer width: {} bits", usize::BITS);
    for (name, size) in rows {
        println!("{name:<24} {size:>5} bytes");
    }
}
