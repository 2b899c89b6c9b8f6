#include "server/reqbudget.h"

#include <stdatomic.h>

#include "common/common.h"

static _Atomic uint64_t g_budget, g_charged;

void reqbudget_set(uint64_t bytes) { atomic_store(&g_budget, bytes); }

bool reqbudget_charge(size_t bytes)
{
    uint64_t budget = atomic_load(&g_budget);
    uint64_t cur = atomic_load(&g_charged);
    do {
        if (budget != 0 && cur + bytes > budget)
            return false;
    } while (!atomic_compare_exchange_weak(&g_charged, &cur, cur + bytes));
    return true;
}

void reqbudget_refund(size_t bytes)
{
    uint64_t before = atomic_fetch_sub(&g_charged, bytes);
    ASSERT(before >= bytes);
}

uint64_t reqbudget_charged(void) { return atomic_load(&g_charged); }
