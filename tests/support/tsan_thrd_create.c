/* Preloaded by `scripts/test --sanitize thread` (never linked into burnrate).
 *
 * librdkafka starts its threads with C11 thrd_create. The ThreadSanitizer
 * runtime of Debian 12's GCC intercepts pthread_create but not thrd_create,
 * so those threads run without its per-thread state and crash at their first
 * allocation. This thrd_create starts the thread with pthread_create, which
 * resolves to the sanitizer's interceptor in an instrumented process (and to
 * glibc's anywhere else). glibc's thrd_t is a pthread_t and its thrd_join
 * reads the thread's int result back from the pointer a pthread returns, so
 * thrd_join, thrd_detach and thrd_exit keep working unchanged. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct start {
  thrd_start_t func;
  void* arg;
};

static void* run(void* p) {
  struct start s = *(struct start*)p;
  free(p);
  return (void*)(intptr_t)s.func(s.arg);
}

/* Its locks and condition variables likewise: glibc's mtx_* and cnd_* call
 * the pthread functions internally, where the sanitizer cannot see them, so
 * the hand-over of a message from librdkafka's threads to ours would look
 * like a race. glibc's mtx_t and cnd_t are a pthread mutex and condition;
 * errors map to thrd_* results as glibc maps them. */
static int result(int err) {
  switch (err) {
    case 0: return thrd_success;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    case ENOMEM: return thrd_nomem;
    default: return thrd_error;
  }
}
int mtx_lock(mtx_t* m) { return result(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return result(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_unlock(mtx_t* m) { return result(pthread_mutex_unlock((pthread_mutex_t*)m)); }
int cnd_signal(cnd_t* c) { return result(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return result(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) {
  return result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict t) {
  return result(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, t));
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct start* s = malloc(sizeof *s);
  if (s == NULL) return thrd_nomem;
  s->func = func;
  s->arg = arg;
  const int err = pthread_create(thr, NULL, run, s);
  if (err != 0) free(s);
  return result(err);
}

/* Joined or detached where the sanitizer sees it, or it reports a leak. */
int thrd_detach(thrd_t thr) { return result(pthread_detach(thr)); }
int thrd_join(thrd_t thr, int* res) {
  void* value;
  const int err = pthread_join(thr, &value);
  if (err == 0 && res != NULL) *res = (int)(intptr_t)value;
  return result(err);
}
