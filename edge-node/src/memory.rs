//! Giving freed heap memory back to the system.
//!
//! glibc's allocator keeps freed memory inside its heaps for reuse and returns it only from the
//! top of the main heap, so a transient peak (loading a model, a burst of frames) stays in the
//! process's resident set for good. A roadside box pays for resident memory per camera, so the
//! edge trims after loading and then once per status interval (about a millisecond each).

/// Returns whole free pages in every malloc arena to the system.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and shrinks the allocator's own free lists; it takes the
    // arenas' locks like any allocation does.
    unsafe {
        libc::malloc_trim(0);
    }
}
