/* The syscall buffer's entry points, in assembly because their register and
 * stack discipline is the point: see preload.c and
 * docs/ARCHITECTURE.md, "The syscall buffer".
 *
 * Record and replay run different C code for a buffered call (the kernel's
 * call and a copy into the buffer, against a copy out of the buffer). The
 * program must not be able to tell: so the C code runs on a stack of the
 * library's own (stale slots below the program's stack pointer stay as
 * they were, and glibc's syscall() reads one), and the registers the
 * program gets back are its own, with rax the result and rcx, r11 (which
 * a syscall clobbers) zero.
 */
#define TLS_STATE 0
#define TLS_DEPTH 4
#define TLS_SAVED_RSP 8
#define TLS_STACK_TOP 16
#define TLS_SAVED_NR 24
#define TLS_CLEAN_RSP 32

        .text

/* bksb_hook: called by a patch slot or by syscall() below, with a raw
 * syscall in rax, rdi, rsi, rdx, r10, r8, r9. Returns its raw result in
 * rax; every other register but rcx and r11 is kept. */
        .globl  bksb_hook
        .hidden bksb_hook
        .type   bksb_hook, @function
bksb_hook:
        .cfi_startproc
        movq    bksb_tls@gottpoff(%rip), %r11
        cmpl    $1, %fs:TLS_STATE(%r11)
        jne     .Lnot_active
        cmpl    $0, %fs:TLS_DEPTH(%r11)
        jne     .Ltraced                      /* a signal handler inside a buffered call */
        movl    $1, %fs:TLS_DEPTH(%r11)
        movq    %rax, %fs:TLS_SAVED_NR(%r11)
        movq    %rsp, %fs:TLS_SAVED_RSP(%r11)
        movq    %fs:TLS_STACK_TOP(%r11), %rsp
        pushq   $0                            /* alignment */
        pushq   %r9
        pushq   %r8
        pushq   %r10
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rax                          /* struct bksb_call: nr, args[6] */
        movq    %rsp, %rdi
        call    bksb_handle
        movq    8(%rsp), %rdi
        movq    16(%rsp), %rsi
        movq    24(%rsp), %rdx
        movq    32(%rsp), %r10
        movq    40(%rsp), %r8
        movq    48(%rsp), %r9
        movq    bksb_tls@gottpoff(%rip), %r11
        movq    %fs:TLS_SAVED_RSP(%r11), %rsp
        movl    $0, %fs:TLS_DEPTH(%r11)
        movabsq $0x8000000000000000, %rcx     /* BKSB_TRACED: make the call traced */
        cmpq    %rcx, %rax
        je      .Lreload_nr
        xorl    %ecx, %ecx
        xorl    %r11d, %r11d
        ret
.Lreload_nr:
        movq    %fs:TLS_SAVED_NR(%r11), %rax
.Ltraced:
        syscall                               /* traced: the tracer sees the program's registers */
        ret
.Lnot_active:
        cmpl    $0, %fs:TLS_STATE(%r11)
        jne     .Ltraced                      /* off in this thread */
        cmpl    $0, %fs:TLS_DEPTH(%r11)
        jne     .Ltraced
        /* First call in this thread: set its buffer up, on the program's
         * stack (below the red zone: the slot skipped it), then again. */
        pushq   %rbp
        movq    %rsp, %rbp                    /* a site's stack may have any alignment */
        andq    $-16, %rsp
        pushq   %rax
        pushq   %rdi
        pushq   %rsi
        pushq   %rdx
        pushq   %r10
        pushq   %r8
        pushq   %r9
        pushq   %r9                           /* alignment */
        call    bksb_thread_init
        popq    %r9
        popq    %r9
        popq    %r8
        popq    %r10
        popq    %rdx
        popq    %rsi
        popq    %rdi
        popq    %rax
        movq    %rbp, %rsp
        popq    %rbp
        jmp     bksb_hook
        .cfi_endproc
        .size   bksb_hook, .-bksb_hook

/* long syscall(long nr, ...): glibc's, through the buffer. */
        .globl  syscall
        .type   syscall, @function
syscall:
        .cfi_startproc
        movq    %rdi, %rax
        movq    %rsi, %rdi
        movq    %rdx, %rsi
        movq    %rcx, %rdx
        movq    %r8, %r10
        movq    %r9, %r8
        movq    8(%rsp), %r9                  /* as glibc: the seventh slot, whatever it holds */
        call    bksb_hook
        cmpq    $-4095, %rax
        jae     1f
        ret
1:      negl    %eax
        pushq   %rax
        .cfi_adjust_cfa_offset 8
        call    __errno_location@PLT
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        movl    %ecx, (%rax)
        movq    $-1, %rax
        ret
        .cfi_endproc
        .size   syscall, .-syscall

/* long bksb_untraced(long nr, long a0, ..., long a5): through the one
 * instruction the seccomp filter allows (syscall; ret at BKSB_UNTRACED_PAGE). */
        .globl  bksb_untraced
        .hidden bksb_untraced
        .type   bksb_untraced, @function
bksb_untraced:
        .cfi_startproc
        movq    %rdi, %rax
        movq    %rsi, %rdi
        movq    %rdx, %rsi
        movq    %rcx, %rdx
        movq    %r8, %r10
        movq    %r9, %r8
        movq    8(%rsp), %r9
        movl    $0x70000000, %ecx
        call    *%rcx
        ret
        .cfi_endproc
        .size   bksb_untraced, .-bksb_untraced

/* long bksb_clean_traced(long nr, const long args[6]): a traced syscall from
 * inside a buffered call, with registers and stack pointer that depend on
 * nothing but the call (record and replay reach it from different C code,
 * and the tracer compares every register at its stops). */
        .globl  bksb_clean_traced
        .hidden bksb_clean_traced
        .type   bksb_clean_traced, @function
bksb_clean_traced:
        .cfi_startproc
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    bksb_tls@gottpoff(%rip), %r11
        movq    %rsp, %fs:TLS_CLEAN_RSP(%r11)
        movq    %fs:TLS_STACK_TOP(%r11), %rsp
        subq    $32768, %rsp                  /* below the C frames; signal frames go lower */
        movq    %rdi, %rax
        movq    0(%rsi), %rdi
        movq    16(%rsi), %rdx
        movq    24(%rsi), %r10
        movq    32(%rsi), %r8
        movq    40(%rsi), %r9
        movq    8(%rsi), %rsi
        xorl    %ebx, %ebx
        xorl    %ebp, %ebp
        xorl    %r12d, %r12d
        xorl    %r13d, %r13d
        xorl    %r14d, %r14d
        xorl    %r15d, %r15d
        xorl    %ecx, %ecx
        xorl    %r11d, %r11d
        syscall
        movq    bksb_tls@gottpoff(%rip), %r11
        movq    %fs:TLS_CLEAN_RSP(%r11), %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret
        .cfi_endproc
        .size   bksb_clean_traced, .-bksb_clean_traced

/* The patch slots: filled by the tracer (recorder/syscall_buffer.cc), one
 * per patched site. int3 until then. */
        .section .text.bksb_slots, "ax", @progbits
        .balign 4096
        .globl  bksb_slots
        .hidden bksb_slots
bksb_slots:
        .fill   2048 * 32, 1, 0xcc
        .size   bksb_slots, .-bksb_slots

        .section .note.GNU-stack, "", @progbits
