/* Two OS threads, each with a Lua state of its own and ftplib linked in,
 * transferring at the same time against one server (`make tsan-threads`
 * builds it under ThreadSanitizer; spec/package/embed_spec.lua runs it):
 *
 *   threads SCRIPT HOST PORT USER PASSWD CAFILE|-
 *
 * Thread i runs SCRIPT (examples/embed/thread_job.lua) with the arguments
 * HOST PORT USER PASSWD CAFILE|- thread<i>.bin; with a CAFILE the sessions
 * are explicit FTPS trusting it. The script may call the global sync(), which
 * returns once every thread has called it (a pthread barrier): both threads
 * log in first, then transfer together, each thread on two sessions driven
 * by its own ftplib.run(). Prints one line per thread; exit status 0 when
 * both scripts returned, 1 otherwise. A thread that fails before sync()
 * leaves the other one waiting there: run it under a timeout.
 *
 * Nothing is shared between the threads but the barrier: the point is that
 * the module keeps no global mutable state, so separate Lua states need no
 * locking (OpenSSL does its own). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "embed.h"

#define THREADS 2

typedef struct job {
    int index;
    char **args;          /* SCRIPT HOST PORT USER PASSWD CAFILE */
    pthread_barrier_t *barrier;
    int ok;
    char message[1024];   /* the script's error, or its result */
} job;

static int l_sync(lua_State *L)
{
    pthread_barrier_t *barrier = lua_touserdata(L, lua_upvalueindex(1));
    pthread_barrier_wait(barrier);
    return 0;
}

/* Runs in protected mode: opening the libraries may raise too. */
static int run_job(lua_State *L)
{
    job *j = lua_touserdata(L, 1);
    luaL_openlibs(L);
    ftplib_embed_open(L, NULL);
    lua_pushlightuserdata(L, j->barrier);
    lua_pushcclosure(L, l_sync, 1);
    lua_setglobal(L, "sync");
    lua_pushcfunction(L, ftplib_embed_traceback);
    int msgh = lua_gettop(L);
    if (luaL_loadfile(L, j->args[0]) != LUA_OK)
        return lua_error(L);
    for (int i = 1; i <= 5; i++)
        lua_pushstring(L, j->args[i]);
    lua_pushfstring(L, "thread%d.bin", j->index);
    if (lua_pcall(L, 6, 1, msgh) != LUA_OK)
        return lua_error(L);
    return 1;
}

static void *thread_main(void *arg)
{
    job *j = arg;
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        snprintf(j->message, sizeof j->message, "cannot create a Lua state");
        return NULL;
    }
    lua_pushcfunction(L, run_job);
    lua_pushlightuserdata(L, j);
    j->ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
    const char *text = lua_tostring(L, -1);
    snprintf(j->message, sizeof j->message, "%s", text ? text : "(no message)");
    lua_close(L);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s SCRIPT HOST PORT USER PASSWD CAFILE|-\n", argv[0]);
        return 2;
    }
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    job jobs[THREADS];
    pthread_t ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].index = i + 1;
        jobs[i].args = argv + 1;
        jobs[i].barrier = &barrier;
        if (pthread_create(&ids[i], NULL, thread_main, &jobs[i]) != 0) {
            fprintf(stderr, "%s: cannot start thread %d\n", argv[0], i + 1);
            return 1;
        }
    }
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(ids[i], NULL);
        printf("thread %d: %s: %s\n", jobs[i].index, jobs[i].ok ? "ok" : "failed",
               jobs[i].message);
        failed |= !jobs[i].ok;
    }
    pthread_barrier_destroy(&barrier);
    return failed;
}
