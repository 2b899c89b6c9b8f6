/* Placeholder until the transport lands. */
#include "server/config.h"

int main(int argc, char **argv)
{
    struct config cfg;
    int rc = config_parse(&cfg, argc, argv);
    return rc < 0 ? 2 : 0;
}
