/* sanitize.sh: is the sanitizer runtime there? (compiled, linked and run per sanitizer) */
#include <pthread.h>
static void *f(void *a) { return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }
