//! Payments RPCs through a real server and client.

mod status;
