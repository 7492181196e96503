//! Link flags of the `herald` executable.
//!
//! On Linux, relative relocations are packed (`-z pack-relative-relocs`, DT_RELR: GNU ld
//! 2.38+, glibc 2.36+): the embedded engines (QuickJS, the CEL parser) brought a megabyte of
//! pointer tables, whose classic relocation entries (24 bytes each) were read at every start
//! and counted in the idle RSS. An older linker ignores the flag with a warning.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
