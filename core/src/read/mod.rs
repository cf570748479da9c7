//! Readers of the request: the head parser and the body decoders.

pub(crate) mod body;
pub(crate) mod head;
