//! Black-box tests of the HTTP server: a real server on port 0 over a fresh data directory, driven over loopback
//! with requests signed exactly as the official SDKs sign them.

mod audit;
mod callbacks;
mod challenges;
mod console;
mod device;
mod doc;
mod ekyc;
mod face;
mod face_library;
mod helpers;
mod hostile_data;
mod hostile_frames;
mod hostile_outbound;
mod hostile_rounds;
mod hostile_transport;
mod housekeeping;
mod lifecycle;
mod merchant;
mod replays;
mod verify_log;
mod web;
