//! Does a loaded object import a given symbol? (One of the few `unsafe` modules.)
//!
//! `aio_waitcomplete` must see requests submitted before its first call (FreeBSD programs
//! submit, then wait), yet tracking costs every request something. So rtaio tracks from the
//! start only in programs that link `aio_waitcomplete`: at startup it looks for an undefined
//! dynamic symbol of that name in the objects the dynamic linker has loaded.
//!
//! Undefined symbols come first in `.dynsym`: with `DT_GNU_HASH` they are exactly the entries
//! below `symoffset`; with `DT_HASH`, `nchain` counts all entries.

use std::ffi::CStr;

use libc::{c_int, c_void, dl_phdr_info, size_t, Elf64_Sym};

/// `Elf64_Dyn` (not declared by the libc crate).
#[repr(C)]
struct Dyn {
    d_tag: i64,
    d_val: u64,
}

struct Search<'a> {
    name: &'a [u8],
    found: bool,
}

/// Is `name` an undefined (imported) dynamic symbol of any loaded object?
pub fn imported_anywhere(name: &CStr) -> bool {
    let mut s = Search { name: name.to_bytes(), found: false };
    // SAFETY: the callback only reads the loaded objects' program headers and dynamic sections,
    // which the dynamic linker keeps mapped while it iterates; `s` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut s as *mut Search as *mut c_void) };
    s.found
}

unsafe extern "C" fn visit(info: *mut dl_phdr_info, _size: size_t, data: *mut c_void) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info and our `Search`.
    let (info, s) = unsafe { (&*info, &mut *(data as *mut Search)) };
    // SAFETY: per dl_iterate_phdr's contract.
    if unsafe { object_imports(info, s.name) } {
        s.found = true;
        return 1; // stop
    }
    0
}

/// # Safety
/// `info` describes a loaded object (from dl_iterate_phdr).
unsafe fn object_imports(info: &dl_phdr_info, name: &[u8]) -> bool {
    let base = info.dlpi_addr as usize;
    // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let Some(dynamic) = phdrs.iter().find(|p| p.p_type == libc::PT_DYNAMIC) else { return false };
    let mut dyn_ptr = (base + dynamic.p_vaddr as usize) as *const Dyn;
    let (mut symtab, mut strtab, mut hash, mut gnu_hash) = (0usize, 0usize, 0usize, 0usize);
    // The object's mapped range. The dynamic linker relocates the addresses below in place for
    // most objects, not for all (the vDSO): a value inside the range is absolute, a value that
    // lands inside it once the base is added is relative; anything else is not trusted.
    let loads = phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD);
    let lo = loads.clone().map(|p| base.wrapping_add(p.p_vaddr as usize)).min().unwrap_or(0);
    let hi = loads.map(|p| base.wrapping_add((p.p_vaddr + p.p_memsz) as usize)).max().unwrap_or(0);
    let inside = |a: usize| (lo..hi).contains(&a);
    let abs = |v: u64| {
        let v = v as usize;
        if inside(v) {
            v
        } else if inside(base.wrapping_add(v)) {
            base.wrapping_add(v)
        } else {
            0
        }
    };
    loop {
        // SAFETY: the dynamic section is an array terminated by DT_NULL.
        let d = unsafe { &*dyn_ptr };
        match d.d_tag as u32 {
            0 => break, // DT_NULL
            6 => symtab = abs(d.d_val),
            5 => strtab = abs(d.d_val),
            4 => hash = abs(d.d_val),
            0x6fff_fef5 => gnu_hash = abs(d.d_val), // DT_GNU_HASH
            _ => {}
        }
        // SAFETY: not past DT_NULL yet.
        dyn_ptr = unsafe { dyn_ptr.add(1) };
    }
    if symtab == 0 || strtab == 0 || (gnu_hash == 0 && hash == 0) {
        return false;
    }
    let count = if gnu_hash != 0 && inside(gnu_hash) {
        // GNU hash header: nbuckets, symoffset, bloom size, bloom shift (u32 each).
        // SAFETY: DT_GNU_HASH points to the mapped hash table header.
        unsafe { *(gnu_hash as *const u32).add(1) as usize }
    } else if hash != 0 {
        // SAFETY: DT_HASH points to nbucket, nchain (u32 each).
        unsafe { *(hash as *const u32).add(1) as usize }
    } else {
        return false;
    };
    let syms = symtab as *const Elf64_Sym;
    (1..count).any(|i| {
        // SAFETY: i < count, the number of (undefined or all) symbols in .dynsym.
        let sym = unsafe { &*syms.add(i) };
        // SAFETY: st_name is an offset into the mapped, NUL-terminated string table.
        // Undefined and not weak (a weak reference is an optional use, not a program built on it).
        sym.st_shndx == 0
            && (sym.st_info >> 4) != 2
            && unsafe { CStr::from_ptr((strtab + sym.st_name as usize) as *const _) }.to_bytes() == name
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_imports_not_definitions() {
        // The test binary imports malloc from libc.
        assert!(imported_anywhere(c"malloc"));
        assert!(!imported_anywhere(c"rtaio_no_such_symbol_anywhere"));
    }
}
