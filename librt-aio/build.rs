fn main() {
    // The shared library: its soname, and never unloaded (pthread_atfork keeps a pointer into it).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librtaio.so.1");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
