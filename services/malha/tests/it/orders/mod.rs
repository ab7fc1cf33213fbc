//! Orders RPCs through a real server and client.

mod status;
mod update;
