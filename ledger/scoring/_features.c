/*
 * quality-v2's features in C: the same counts as ledger/scoring/v2.py's reference
 * (features_in_python), bit for bit, at a fraction of its cost (the score was a third of a
 * loaded server's interpreter time; bench/scoring.py --speed measures both on ShareGPT).
 * tests/scoring/test_compiled_features.py holds the two together on the ShareGPT sample, every
 * farming case of the tests and generated text of every script; bench/scoring.py --speed on
 * every ShareGPT conversation.
 *
 * configure(bmp_classes, bmp_lower, astral_classes, astral_lower): the rules' character tables
 * (ledger.scoring.text.compiled_tables), which say which code point is a word character, a
 * single-character token, white space, a digit, and its lower case; never this C library's.
 * Once per process: the counting reads them without the interpreter lock, so they are never
 * replaced or freed under it.
 * features(messages, free_user, free_assistant, novelty, repetition) -> the 10 integers of
 * v2.FEATURES, in order, of messages (role, text): role 0 the user's, 1 the assistant's.
 *
 * The counting runs without the interpreter lock (the server's other request threads go on
 * meanwhile), on the texts' own code points, the strings held until it is done.
 *
 * Tokens, shingles and token pairs are compared by their bytes, never by their hashes alone:
 * two different shingles are never taken for one. Every count is exact (64-bit: a body is
 * megabytes at most).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define WORD 1
#define SPACE 2
#define DIGIT 4
#define SINGLE 8
#define MAX_SHINGLE 16

/* A set of byte strings (or a map of them to a count), open addressing over an index of entry
 * numbers; the keys are kept in one arena. */
typedef struct {
    uint32_t *index; /* entry number + 1, 0 when empty */
    size_t index_mask;
    uint64_t *hashes;
    size_t *offsets;
    uint32_t *lengths;
    uint64_t *values;
    size_t count, capacity;
    unsigned char *arena;
    size_t arena_used, arena_capacity;
} Table;

static int table_init(Table *t, size_t expected) {
    size_t index_size = 16;
    while (index_size < 2 * expected + 2) index_size <<= 1;
    memset(t, 0, sizeof(*t));
    t->index = PyMem_RawCalloc(index_size, sizeof(uint32_t));
    t->index_mask = index_size - 1;
    t->capacity = index_size / 2;
    t->hashes = PyMem_RawMalloc(t->capacity * sizeof(uint64_t));
    t->offsets = PyMem_RawMalloc(t->capacity * sizeof(size_t));
    t->lengths = PyMem_RawMalloc(t->capacity * sizeof(uint32_t));
    t->values = PyMem_RawCalloc(t->capacity, sizeof(uint64_t));
    t->arena_capacity = 64 + 8 * expected;
    t->arena = PyMem_RawMalloc(t->arena_capacity);
    return t->index && t->hashes && t->offsets && t->lengths && t->values && t->arena ? 0 : -1;
}

static void table_free(Table *t) {
    PyMem_RawFree(t->index);
    PyMem_RawFree(t->hashes);
    PyMem_RawFree(t->offsets);
    PyMem_RawFree(t->lengths);
    PyMem_RawFree(t->values);
    PyMem_RawFree(t->arena);
    memset(t, 0, sizeof(*t));
}

static uint64_t hash_bytes(const unsigned char *key, size_t length) {
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)length; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < length; i++) h = (h ^ key[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int table_grow(Table *t) {
    size_t index_size = 2 * (t->index_mask + 1);
    if (index_size > (size_t)UINT32_MAX) return -1;
    uint32_t *index = PyMem_RawCalloc(index_size, sizeof(uint32_t));
    size_t capacity = index_size / 2;
    uint64_t *hashes = PyMem_RawRealloc(t->hashes, capacity * sizeof(uint64_t));
    if (hashes) t->hashes = hashes;
    size_t *offsets = PyMem_RawRealloc(t->offsets, capacity * sizeof(size_t));
    if (offsets) t->offsets = offsets;
    uint32_t *lengths = PyMem_RawRealloc(t->lengths, capacity * sizeof(uint32_t));
    if (lengths) t->lengths = lengths;
    uint64_t *values = PyMem_RawRealloc(t->values, capacity * sizeof(uint64_t));
    if (values) t->values = values;
    if (!index || !hashes || !offsets || !lengths || !values) {
        PyMem_RawFree(index);
        return -1;
    }
    memset(t->values + t->capacity, 0, (capacity - t->capacity) * sizeof(uint64_t));
    size_t mask = index_size - 1;
    for (size_t e = 0; e < t->count; e++) {
        size_t slot = t->hashes[e] & mask;
        while (index[slot]) slot = (slot + 1) & mask;
        index[slot] = (uint32_t)(e + 1);
    }
    PyMem_RawFree(t->index);
    t->index = index;
    t->index_mask = mask;
    t->capacity = capacity;
    return 0;
}

/* The entry of `key`, added if new: its number in *entry; 1 if added, 0 if there, -1 on no memory. */
static int table_add(Table *t, const unsigned char *key, size_t length, size_t *entry) {
    uint64_t h = hash_bytes(key, length);
    size_t slot = h & t->index_mask;
    for (uint32_t e; (e = t->index[slot]) != 0; slot = (slot + 1) & t->index_mask) {
        e -= 1;
        if (t->hashes[e] == h && t->lengths[e] == length && memcmp(t->arena + t->offsets[e], key, length) == 0) {
            *entry = e;
            return 0;
        }
    }
    if (t->count + 1 > t->capacity) {
        if (table_grow(t) < 0) return -1;
        slot = h & t->index_mask;
        while (t->index[slot]) slot = (slot + 1) & t->index_mask;
    }
    if (t->arena_used + length > t->arena_capacity) {
        size_t capacity = 2 * t->arena_capacity + length;
        unsigned char *arena = PyMem_RawRealloc(t->arena, capacity);
        if (!arena) return -1;
        t->arena = arena;
        t->arena_capacity = capacity;
    }
    memcpy(t->arena + t->arena_used, key, length);
    size_t e = t->count++;
    t->hashes[e] = h;
    t->offsets[e] = t->arena_used;
    t->lengths[e] = (uint32_t)length;
    t->arena_used += length;
    t->index[slot] = (uint32_t)(e + 1);
    *entry = e;
    return 1;
}

/* A growing array of token ids (and one of joined flags) for the message being counted. */
typedef struct {
    uint32_t *ids;
    unsigned char *joined;
    size_t count, capacity;
} Tokens;

static int tokens_push(Tokens *tokens, uint32_t id, unsigned char joined) {
    if (tokens->count == tokens->capacity) {
        size_t capacity = tokens->capacity ? 2 * tokens->capacity : 256;
        uint32_t *ids = PyMem_RawRealloc(tokens->ids, capacity * sizeof(uint32_t));
        if (ids) tokens->ids = ids;
        unsigned char *flags = PyMem_RawRealloc(tokens->joined, capacity);
        if (flags) tokens->joined = flags;
        if (!ids || !flags) return -1;
        tokens->capacity = capacity;
    }
    tokens->ids[tokens->count] = id;
    tokens->joined[tokens->count] = joined;
    tokens->count++;
    return 0;
}

typedef struct {
    Table types;      /* token text -> id; values: the id's count at novel positions */
    Table seen;       /* novelty shingles of the conversation */
    Table own[2];     /* repetition shingles of each side */
    Table bigrams;    /* (id, id) of novel positions not joined -> count */
    Tokens tokens;
    uint32_t *folded;    /* a message's code points, folded (tokenize) */
    unsigned char *word; /* a token's UTF-8, while it is interned */
    size_t folded_capacity;
} Counting;

static int intern(Counting *c, const unsigned char *text, size_t length, unsigned char joined) {
    size_t entry;
    if (table_add(&c->types, text, length, &entry) < 0) return -1;
    return tokens_push(&c->tokens, (uint32_t)entry, joined);
}

/* The rules' character tables (configure): a byte of class bits for each code point of the BMP
 * and for segments beyond it, and each code point's lower case. */
static unsigned char *bmp_classes;
static int32_t *bmp_lower;
static uint32_t (*astral_classes)[3]; /* [first, last, bits], sorted, disjoint */
static size_t astral_class_count;
static uint32_t (*astral_lower)[2];   /* [code point, its lower case], sorted */
static size_t astral_lower_count;

static unsigned char class_of(uint32_t cp) {
    if (cp < 0x10000) return bmp_classes[cp];
    size_t low = 0, high = astral_class_count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (cp < astral_classes[middle][0]) high = middle;
        else if (cp > astral_classes[middle][1]) low = middle + 1;
        else return (unsigned char)astral_classes[middle][2];
    }
    return 0;
}

static uint32_t lower_of(uint32_t cp) {
    if (cp < 0x10000) return (uint32_t)((int32_t)cp + bmp_lower[cp]);
    size_t low = 0, high = astral_lower_count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (cp < astral_lower[middle][0]) high = middle;
        else if (cp > astral_lower[middle][0]) low = middle + 1;
        else return astral_lower[middle][1];
    }
    return cp;
}

static size_t utf8_of(const uint32_t *cps, size_t n, unsigned char *out) {
    size_t length = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        if (cp < 0x80) {
            out[length++] = (unsigned char)cp;
        } else if (cp < 0x800) {
            out[length++] = (unsigned char)(0xC0 | (cp >> 6));
            out[length++] = (unsigned char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) { /* a lone surrogate too: tokens only need telling apart */
            out[length++] = (unsigned char)(0xE0 | (cp >> 12));
            out[length++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            out[length++] = (unsigned char)(0x80 | (cp & 0x3F));
        } else {
            out[length++] = (unsigned char)(0xF0 | (cp >> 18));
            out[length++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            out[length++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            out[length++] = (unsigned char)(0x80 | (cp & 0x3F));
        }
    }
    return length;
}

/* ledger.scoring.text.Tokenizer.tokenize_general, step by step: the characters counted on the
 * text as written; then lower case, each run of digits one "0", a character of a token three
 * times or more in a row twice; then the tokens of that text: one character of a script
 * written without spaces, or a run of word characters; a token joined when something other
 * than white space, and something, separates it from the one before. */
static int tokenize(Counting *c, int kind, const void *data, size_t n, uint64_t *token_chars,
                    uint64_t *other_chars) {
    if (c->folded_capacity < n + 1) {
        uint32_t *folded = PyMem_RawRealloc(c->folded, (n + 1) * sizeof(uint32_t));
        unsigned char *word = folded ? PyMem_RawRealloc(c->word, 4 * (n + 1)) : NULL;
        if (folded) c->folded = folded;
        if (word) c->word = word;
        if (!folded || !word) return -1;
        c->folded_capacity = n + 1;
    }
    uint64_t words = 0, spaces = 0;
    size_t length = 0;
    int in_digits = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = PyUnicode_READ(kind, data, i);
        unsigned char kind_of = class_of(cp);
        words += (kind_of & (WORD | SINGLE)) != 0;
        spaces += (kind_of & SPACE) != 0;
        cp = lower_of(cp);
        if (class_of(cp) & DIGIT) {
            if (!in_digits) c->folded[length++] = '0';
            in_digits = 1;
            continue;
        }
        in_digits = 0;
        c->folded[length++] = cp;
    }
    *token_chars += words;
    *other_chars += n - words - spaces;
    /* At most two of a token's character in a row. */
    size_t kept = 0;
    for (size_t i = 0; i < length; i++) {
        uint32_t cp = c->folded[i];
        if (kept >= 2 && c->folded[kept - 1] == cp && c->folded[kept - 2] == cp && (class_of(cp) & (WORD | SINGLE))) {
            continue;
        }
        c->folded[kept++] = cp;
    }
    int first = 1, separated = 0, space_before = 0;
    size_t i = 0;
    while (i < kept) {
        unsigned char kind_of = class_of(c->folded[i]);
        size_t start = i;
        if (kind_of & SINGLE) {
            i++;
        } else if (kind_of & WORD) {
            while (i < kept && (class_of(c->folded[i]) & WORD)) i++;
        } else {
            separated = 1;
            space_before |= (kind_of & SPACE) != 0;
            i++;
            continue;
        }
        size_t bytes = utf8_of(c->folded + start, i - start, c->word);
        if (intern(c, c->word, bytes, (unsigned char)(!first && separated && !space_before)) < 0) return -1;
        first = 0;
        separated = 0;
        space_before = 0;
    }
    return 0;
}

/* configure(bmp_classes, bmp_lower, astral_classes, astral_lower): the rules' tables, once. */
static PyObject *configure(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer classes, lower;
    PyObject *astral, *astral_pairs;
    if (bmp_classes) {
        PyErr_SetString(PyExc_RuntimeError, "the character tables are configured once a process");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*y*O!O!", &classes, &lower, &PyList_Type, &astral, &PyList_Type, &astral_pairs)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (classes.len != 0x10000 || lower.len != 0x10000 * (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "a class byte and a lower-case delta for each of the BMP's code points");
        goto done;
    }
    size_t segments = (size_t)PyList_GET_SIZE(astral), pairs = (size_t)PyList_GET_SIZE(astral_pairs);
    unsigned char *new_classes = PyMem_RawMalloc(0x10000);
    int32_t *new_lower = PyMem_RawMalloc(0x10000 * sizeof(int32_t));
    uint32_t (*new_astral)[3] = PyMem_RawMalloc((segments + 1) * sizeof(*new_astral));
    uint32_t (*new_pairs)[2] = PyMem_RawMalloc((pairs + 1) * sizeof(*new_pairs));
    if (!new_classes || !new_lower || !new_astral || !new_pairs) {
        PyMem_RawFree(new_classes);
        PyMem_RawFree(new_lower);
        PyMem_RawFree(new_astral);
        PyMem_RawFree(new_pairs);
        PyErr_NoMemory();
        goto done;
    }
    memcpy(new_classes, classes.buf, 0x10000);
    memcpy(new_lower, lower.buf, 0x10000 * sizeof(int32_t));
    for (size_t k = 0; k < segments; k++) {
        unsigned int first, last, bits;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(astral, k), "III", &first, &last, &bits)) goto failed;
        new_astral[k][0] = first, new_astral[k][1] = last, new_astral[k][2] = bits;
    }
    for (size_t k = 0; k < pairs; k++) {
        unsigned int from, to;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(astral_pairs, k), "II", &from, &to)) goto failed;
        new_pairs[k][0] = from, new_pairs[k][1] = to;
    }
    bmp_classes = new_classes, bmp_lower = new_lower;
    astral_classes = new_astral, astral_class_count = segments;
    astral_lower = new_pairs, astral_lower_count = pairs;
    result = Py_None;
    Py_INCREF(result);
    goto done;
failed:
    PyMem_RawFree(new_classes);
    PyMem_RawFree(new_lower);
    PyMem_RawFree(new_astral);
    PyMem_RawFree(new_pairs);
done:
    PyBuffer_Release(&classes);
    PyBuffer_Release(&lower);
    return result;
}

/* A message as the counting reads it, without the interpreter: its side and its text's code points. */
typedef struct {
    int role;
    int kind;
    const void *data;
    size_t length;
} Text;

/* The ten features of `texts`, into `out`; -1 when memory runs out. Called without the
 * interpreter lock: it touches no Python object, and allocates with PyMem_Raw*. */
static int count_texts(Counting *c, const Text *texts, size_t count, const long long free_tokens[2],
                       size_t novelty, size_t repetition, uint64_t out[10]) {
    if (table_init(&c->types, 1024) < 0 || table_init(&c->seen, 1024) < 0 || table_init(&c->own[0], 512) < 0
        || table_init(&c->own[1], 1024) < 0 || table_init(&c->bigrams, 1024) < 0) {
        return -1;
    }
    uint64_t new_tokens[2] = {0, 0}, tokens = 0, repeated = 0, token_chars = 0, other_chars = 0;
    uint32_t key[MAX_SHINGLE];
    for (size_t m = 0; m < count; m++) {
        int role = texts[m].role;
        c->tokens.count = 0;
        if (tokenize(c, texts[m].kind, texts[m].data, texts[m].length, &token_chars, &other_chars) < 0) return -1;
        size_t n = c->tokens.count;
        const uint32_t *ids = c->tokens.ids;
        const unsigned char *joined = c->tokens.joined;
        tokens += n;
        uint64_t novel_here = 0;
        for (size_t i = 0; i < n; i++) {
            size_t entry, length = n - i < repetition ? n - i : repetition;
            memcpy(key, ids + i, length * sizeof(uint32_t));
            int added = table_add(&c->own[role], (const unsigned char *)key, length * sizeof(uint32_t), &entry);
            if (added < 0) return -1;
            repeated += added == 0;
            length = n - i < novelty ? n - i : novelty;
            memcpy(key, ids + i, length * sizeof(uint32_t));
            added = table_add(&c->seen, (const unsigned char *)key, length * sizeof(uint32_t), &entry);
            if (added < 0) return -1;
            if (!added) continue;
            novel_here++;
            c->types.values[ids[i]]++;
            if (i + 1 < n && !joined[i + 1]) {
                if (table_add(&c->bigrams, (const unsigned char *)(ids + i), 2 * sizeof(uint32_t), &entry) < 0) {
                    return -1;
                }
                c->bigrams.values[entry]++;
            }
        }
        if ((long long)novel_here > free_tokens[role]) new_tokens[role] += novel_here - (uint64_t)free_tokens[role];
    }
    uint64_t novel = 0, novel_types = 0, novel_squares = 0, collisions = 0;
    for (size_t e = 0; e < c->types.count; e++) {
        uint64_t n = c->types.values[e];
        novel += n;
        novel_types += n > 0;
        novel_squares += n * n;
    }
    for (size_t e = 0; e < c->bigrams.count; e++) {
        uint64_t n = c->bigrams.values[e];
        collisions += n * (n - 1) / 2;
    }
    uint64_t counts[10] = {new_tokens[0], new_tokens[1], tokens, repeated, novel, novel_types, novel_squares,
                           collisions, token_chars, other_chars};
    memcpy(out, counts, sizeof(counts));
    return 0;
}

static PyObject *features(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *messages;
    long long free_tokens[2];
    Py_ssize_t novelty, repetition;
    if (!PyArg_ParseTuple(args, "O!LLnn", &PyList_Type, &messages, &free_tokens[0], &free_tokens[1],
                          &novelty, &repetition)) {
        return NULL;
    }
    if (!bmp_classes) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the character tables first");
        return NULL;
    }
    if (novelty < 1 || novelty > MAX_SHINGLE || repetition < 1 || repetition > MAX_SHINGLE) {
        PyErr_SetString(PyExc_ValueError, "shingles are of 1 to 16 tokens");
        return NULL;
    }
    /* The texts, each held while the lock is released (another thread could empty the list). */
    size_t count = (size_t)PyList_GET_SIZE(messages), held = 0;
    PyObject **kept = PyMem_Malloc((count + 1) * sizeof(PyObject *));
    Text *texts = PyMem_Malloc((count + 1) * sizeof(Text));
    PyObject *result = NULL;
    if (!kept || !texts) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t m = 0; m < count; m++) {
        PyObject *text;
        int role;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(messages, m), "iO", &role, &text)) goto done;
        if (role != 0 && role != 1) {
            PyErr_SetString(PyExc_ValueError, "a role is 0 (user) or 1 (assistant)");
            goto done;
        }
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "a message's text is a str");
            goto done;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(text) < 0) goto done;
#endif
        Py_INCREF(text);
        kept[held++] = text;
        texts[m] = (Text){role, PyUnicode_KIND(text), PyUnicode_DATA(text), (size_t)PyUnicode_GET_LENGTH(text)};
    }
    Counting c;
    memset(&c, 0, sizeof(c));
    uint64_t out[10];
    int counted;
    Py_BEGIN_ALLOW_THREADS
    counted = count_texts(&c, texts, count, free_tokens, (size_t)novelty, (size_t)repetition, out);
    table_free(&c.types);
    table_free(&c.seen);
    table_free(&c.own[0]);
    table_free(&c.own[1]);
    table_free(&c.bigrams);
    PyMem_RawFree(c.tokens.ids);
    PyMem_RawFree(c.tokens.joined);
    PyMem_RawFree(c.folded);
    PyMem_RawFree(c.word);
    Py_END_ALLOW_THREADS
    if (counted < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("(KKKKKKKKKK)", (unsigned long long)out[0], (unsigned long long)out[1],
                           (unsigned long long)out[2], (unsigned long long)out[3], (unsigned long long)out[4],
                           (unsigned long long)out[5], (unsigned long long)out[6], (unsigned long long)out[7],
                           (unsigned long long)out[8], (unsigned long long)out[9]);
done:
    for (size_t k = 0; k < held; k++) Py_DECREF(kept[k]);
    PyMem_Free(kept);
    PyMem_Free(texts);
    return result;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "The rules' character tables."},
    {"features", features, METH_VARARGS, "quality-v2's ten features of (role, text) messages."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_features", .m_doc = NULL, .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__features(void) { return PyModule_Create(&module); }
