// The wide-character ncurses API (get_wch, add_wch, setcchar, wcwidth ...) as one Swift module.
#ifndef DEFPI_CNCURSESW_SHIM_H
#define DEFPI_CNCURSESW_SHIM_H

#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

// glibc declares wcwidth only under _XOPEN_SOURCE, which the system module map does not set.
extern int wcwidth(wchar_t character);

// Attribute and colour macros Swift cannot import, as functions.
static inline attr_t defpi_curses_attr_normal(void) { return A_NORMAL; }
static inline attr_t defpi_curses_attr_bold(void) { return A_BOLD; }
static inline attr_t defpi_curses_attr_dim(void) { return A_DIM; }
static inline attr_t defpi_curses_attr_reverse(void) { return A_REVERSE; }
static inline attr_t defpi_curses_attr_underline(void) { return A_UNDERLINE; }
static inline attr_t defpi_curses_attr_italic(void) { return A_ITALIC; }
static inline attr_t defpi_curses_color_pair(short pair) { return (attr_t)COLOR_PAIR(pair); }
static inline int defpi_curses_key_resize(void) { return KEY_RESIZE; }
static inline int defpi_curses_ok(void) { return OK; }

// The mouse: the events the console asks for, and the next one decoded as 1 click, 2 double
// click, 3 wheel up, 4 wheel down (0: none of these) at (*x, *y).
static inline void defpi_curses_enable_mouse(void) {
    mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(200);
}
static inline int defpi_curses_key_mouse(void) { return KEY_MOUSE; }
static inline int defpi_curses_mouse_event(int *x, int *y) {
    MEVENT event;
    if (getmouse(&event) != OK) return 0;
    *x = event.x;
    *y = event.y;
    if (event.bstate & BUTTON1_DOUBLE_CLICKED) return 2;
    if (event.bstate & BUTTON1_CLICKED) return 1;
    if (event.bstate & BUTTON4_PRESSED) return 3;
    if (event.bstate & BUTTON5_PRESSED) return 4;
    return 0;
}

// ncurses globals, read through functions (Swift treats imported C globals as shared mutable state).
static inline WINDOW *defpi_curses_stdscr(void) { return stdscr; }
static inline int defpi_curses_colors(void) { return COLORS; }
static inline int defpi_curses_lines(void) { return LINES; }
static inline int defpi_curses_cols(void) { return COLS; }

#endif
