/*
 * Loaded into linux.uml with LD_PRELOAD (never into anything else). User-Mode Linux writes each
 * guest process's FPU state with PTRACE_SETREGSET(NT_X86_XSTATE) using its own buffer size; a host
 * whose XSAVE area is larger (AVX-512, AMX) refuses any other size with EFAULT, and UML cannot start
 * a single process ("ptrace set fp regs failed, errno = 14"). For that one request, when UML's
 * buffer is shorter than the host's area, read the full area from the child, lay UML's bytes over
 * its start (the XSAVE header inside them says which components UML meant; the rest keep their
 * init state) and write the full size. Every other call goes to libc's ptrace unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef long (*ptrace_fn)(enum __ptrace_request, pid_t, void *, void *);

static ptrace_fn real_ptrace;

/* Static, not on the stack: UML calls ptrace on its small kernel stacks ("Segfault with no mm"). */
static unsigned char host_area[64 * 1024];
/* The host's XSAVE size, learnt from the first request; 0 until then. */
static size_t host_size;

/* Resolved before UML starts, so no dynamic-linker work happens on a kernel stack. */
__attribute__((constructor)) static void resolve_real_ptrace(void) {
  real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
}

long ptrace(enum __ptrace_request request, ...) {
  va_list args;
  va_start(args, request);
  pid_t pid = va_arg(args, pid_t);
  void *addr = va_arg(args, void *);
  void *data = va_arg(args, void *);
  va_end(args);

  if (request == PTRACE_SETREGSET && (unsigned long)addr == NT_X86_XSTATE && data != NULL) {
    struct iovec *uml = data;
    if (host_size == 0 || uml->iov_len < host_size) {
      struct iovec host = {.iov_base = host_area, .iov_len = sizeof host_area};
      /* The kernel shortens iov_len to its own XSAVE size. */
      if (real_ptrace(PTRACE_GETREGSET, pid, addr, &host) == 0) {
        host_size = host.iov_len;
        if (uml->iov_len < host_size) {
          memcpy(host_area, uml->iov_base, uml->iov_len);
          return real_ptrace(PTRACE_SETREGSET, pid, addr, &host);
        }
      }
    }
  }
  return real_ptrace(request, pid, addr, data);
}
