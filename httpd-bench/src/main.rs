//! httpd-bench: placeholder, being written.
fn main() {}
