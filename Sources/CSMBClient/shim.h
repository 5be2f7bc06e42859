#ifndef CSMBCLIENT_SHIM_H
#define CSMBCLIENT_SHIM_H

#include <samba-4.0/libsmbclient.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// libsmbclient is opened the first time a share is used, not when the process starts: linking it loads about ninety
// Samba libraries, which cost every siteloc command 50 ms before main (a C program linking it starts in 51 ms, one
// that does not in 3 ms; perf stat). Only the lab's file shares use SMB.

typedef struct {
    // dlerror's text when libsmbclient could not be loaded, else NULL.
    const char *error;
    SMBCCTX *(*new_context)(void);
    SMBCCTX *(*init_context)(SMBCCTX *);
    int (*free_context)(SMBCCTX *, int);
    void (*set_debug)(SMBCCTX *, int);
    void (*set_timeout)(SMBCCTX *, int);
    void *(*get_user_data)(SMBCCTX *);
    void (*set_user_data)(SMBCCTX *, void *);
    void (*set_use_kerberos)(SMBCCTX *, smbc_bool);
    void (*set_fallback_after_kerberos)(SMBCCTX *, smbc_bool);
    void (*set_no_auto_anonymous_login)(SMBCCTX *, smbc_bool);
    void (*set_auth)(SMBCCTX *, smbc_get_auth_data_with_context_fn);
    smbc_open_fn (*get_open)(SMBCCTX *);
    smbc_write_fn (*get_write)(SMBCCTX *);
    smbc_close_fn (*get_close)(SMBCCTX *);
    smbc_rename_fn (*get_rename)(SMBCCTX *);
    smbc_unlink_fn (*get_unlink)(SMBCCTX *);
    smbc_stat_fn (*get_stat)(SMBCCTX *);
} csmb_library;

static inline void csmb_load(csmb_library *csmb_loaded) {
    void *handle = dlopen("libsmbclient.so.0", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        csmb_loaded->error = dlerror();
        return;
    }
    void **slots[] = {
        (void **)&csmb_loaded->new_context, (void **)&csmb_loaded->init_context, (void **)&csmb_loaded->free_context,
        (void **)&csmb_loaded->set_debug, (void **)&csmb_loaded->set_timeout, (void **)&csmb_loaded->get_user_data,
        (void **)&csmb_loaded->set_user_data, (void **)&csmb_loaded->set_use_kerberos,
        (void **)&csmb_loaded->set_fallback_after_kerberos, (void **)&csmb_loaded->set_no_auto_anonymous_login,
        (void **)&csmb_loaded->set_auth, (void **)&csmb_loaded->get_open, (void **)&csmb_loaded->get_write,
        (void **)&csmb_loaded->get_close, (void **)&csmb_loaded->get_rename, (void **)&csmb_loaded->get_unlink,
        (void **)&csmb_loaded->get_stat,
    };
    const char *names[] = {
        "smbc_new_context", "smbc_init_context", "smbc_free_context", "smbc_setDebug", "smbc_setTimeout",
        "smbc_getOptionUserData", "smbc_setOptionUserData", "smbc_setOptionUseKerberos",
        "smbc_setOptionFallbackAfterKerberos", "smbc_setOptionNoAutoAnonymousLogin",
        "smbc_setFunctionAuthDataWithContext", "smbc_getFunctionOpen", "smbc_getFunctionWrite",
        "smbc_getFunctionClose", "smbc_getFunctionRename", "smbc_getFunctionUnlink",
        "smbc_getFunctionStat",
    };
    for (size_t index = 0; index < sizeof(names) / sizeof(names[0]); index++) {
        *slots[index] = dlsym(handle, names[index]);
        if (*slots[index] == NULL) {
            csmb_loaded->error = "libsmbclient.so.0 lacks a function siteloc uses";
            return;
        }
    }
}

// The loaded library (loaded by the first call); its `error` says why it is unusable.
static inline const csmb_library *csmb_library_loaded(void) {
    static csmb_library loaded;
    static int tried;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!tried) {
        csmb_load(&loaded);
        tried = 1;
    }
    pthread_mutex_unlock(&lock);
    return &loaded;
}

// A context set up as siteloc uses it: no debug output, no Kerberos, never anonymous, credentials from `auth`
// reading `user_data`. NULL with errno set when it cannot be made.
static inline SMBCCTX *csmb_context(int timeout_ms, void *user_data, smbc_get_auth_data_with_context_fn auth) {
    const csmb_library *smb = csmb_library_loaded();
    if (smb->error != NULL) {
        errno = ELIBACC;
        return NULL;
    }
    SMBCCTX *context = smb->new_context();
    if (context == NULL) return NULL;
    smb->set_debug(context, 0);
    smb->set_user_data(context, user_data);
    smb->set_auth(context, auth);
    smb->set_no_auto_anonymous_login(context, 1);
    smb->set_use_kerberos(context, 0);
    smb->set_fallback_after_kerberos(context, 1);
    smb->set_timeout(context, timeout_ms);
    if (smb->init_context(context) == NULL) {
        int code = errno;
        smb->free_context(context, 1);
        errno = code;
        return NULL;
    }
    return context;
}

// A pipe whose ends are closed on exec from the start: no process another thread starts meanwhile inherits them
// (pipe2 is hidden from Swift behind _GNU_SOURCE).
static inline int csmb_pipe(int ends[2]) { return (int)syscall(SYS_pipe2, ends, O_CLOEXEC); }

// Starts `path` (smbclient) with `argv` and `envp`: `input` as its standard input, `output` as its standard output
// and error, `authentication` as descriptor 3, every other descriptor closed, no signal blocked or ignored, and
// SIGKILL sent to it when the calling thread ends (PR_SET_PDEATHSIG, kept across exec: the caller starts it from a
// thread that lives as long as the process). Returns its pid, or -errno when it could not start.
//
// In C because the child of a multithreaded process may only make system calls until it execs, and because the
// death signal must be set in the child before exec (posix_spawn cannot). vfork: the child borrows this thread's
// memory until it execs, so it only makes system calls, and every signal stays blocked in it until just before
// exec so that no handler of this process runs on the borrowed stack.
static inline pid_t csmb_spawn_dying_with_thread(
    const char *path, char *const argv[], char *const envp[], int input, int output, int authentication
) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();
    volatile int failure = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
            failure = errno;
            _exit(127);
        }
        if (getppid() != parent) {
            failure = ESRCH;
            _exit(127);
        }
        // Above 3 first, so that no source is overwritten by another's target.
        int moved_input = fcntl(input, F_DUPFD, 10);
        int moved_output = fcntl(output, F_DUPFD, 10);
        int moved_authentication = fcntl(authentication, F_DUPFD, 10);
        if (moved_input < 0 || moved_output < 0 || moved_authentication < 0 || dup2(moved_input, 0) < 0
            || dup2(moved_output, 1) < 0 || dup2(moved_output, 2) < 0 || dup2(moved_authentication, 3) < 0) {
            failure = errno;
            _exit(127);
        }
        if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
            for (int descriptor = 4; descriptor < 65536; descriptor++) close(descriptor);
        }
        struct sigaction fallback;
        memset(&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            if (signal_number != SIGKILL && signal_number != SIGSTOP) sigaction(signal_number, &fallback, NULL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
        failure = errno;
        _exit(127);
    }
    int spawn_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) return -spawn_error;
    if (failure != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return -failure;
    }
    return pid;
}

#endif
