/* main.c - the sotto command line (being built). */
#include <stdio.h>

#include "sotto/sotto.h"

int main(void)
{
    printf("sotto %s\n", sotto_version());
    return 0;
}
