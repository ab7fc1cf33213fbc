//! Projects RPCs through a real server and client.

mod update;
