fn main() {
    // The shared library: its soname, and never unloaded (pthread_atfork keeps a pointer into it).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librtaio.so.1");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    // Cancellation points (src/sys/cancel.c): -fexceptions so that a cancelled wait's cleanup
    // handler runs from the forced unwind.
    println!("cargo:rerun-if-changed=src/sys/cancel.c");
    cc::Build::new()
        .file("src/sys/cancel.c")
        .flag("-fexceptions")
        .flag("-fasynchronous-unwind-tables")
        .compile("rtaio_cancel");
}
