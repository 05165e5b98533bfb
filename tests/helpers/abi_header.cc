/* check-abi.sh: rtaio.h compiles and links as C++ (extern "C"). */
#include <rtaio.h>
int main() { struct aiocb *p = nullptr; return aio_reap(-1, &p, 1) == -1 ? 0 : 1; }
