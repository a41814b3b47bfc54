/*
 * context.c - what a stream prompts its recognizer with, and the built-in domain terms.
 *
 * The prompt has two parts. The static part (a domain's term list, the caller's custom
 * terms, the caller's prompt text) is built once and never trimmed. The rolling part is
 * the text committed so far, kept as words with their start times and trimmed from the
 * front, whole words only, to max_context_words (120 by default, which stays under
 * Whisper's 223-token prompt limit). The context lives as long as the stream, so it
 * carries across pauses (SimulStreaming loses it at every VAD pause).
 */
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "stream/stream_int.h"

typedef struct domain_terms {
    const char *name;
    const char *terms;
} domain_terms;

static const domain_terms domains[] = {
    {"medical",
     "anamnesis, anticoagulant, arrhythmia, atrial fibrillation, auscultation, biopsy, "
     "bradycardia, carcinoma, cardiomyopathy, comorbidity, contraindication, diastolic, "
     "dyspnea, echocardiogram, edema, electrocardiogram, embolism, hematoma, hemoglobin, "
     "hypertension, hypoglycemia, intubation, ischemia, laparoscopy, metastasis, "
     "myocardial infarction, nephrology, oncology, palpation, pneumonia, prognosis, "
     "sepsis, stenosis, systolic, tachycardia, thrombosis"},
    {"legal",
     "affidavit, amicus curiae, appellant, arbitration, bona fide, breach of contract, "
     "counterclaim, defendant, deposition, due diligence, estoppel, habeas corpus, "
     "indemnification, injunction, jurisdiction, liability, litigation, mens rea, "
     "negligence, plaintiff, precedent, prima facie, pro bono, statute of limitations, "
     "subpoena, tort, voir dire, warrant"},
    {"technical",
     "API, authentication, backend, bandwidth, cache, container, CPU, database, "
     "deployment, encryption, firmware, frontend, GPU, Kubernetes, latency, load balancer, "
     "microservice, middleware, namespace, PostgreSQL, refactoring, regression, "
     "repository, runtime, scalability, SDK, throughput, TLS, virtual machine, WebSocket"},
    {"business",
     "acquisition, amortization, balance sheet, benchmark, EBITDA, equity, fiscal year, "
     "forecast, KPI, leverage, liquidity, margin, market share, merger, procurement, "
     "quarterly earnings, revenue, ROI, shareholder, stakeholder, supply chain, "
     "valuation, venture capital, working capital, year over year"},
    {"education",
     "accreditation, assessment, baccalaureate, bachelor's degree, classroom, curriculum, "
     "differentiation, dissertation, doctorate, enrollment, extracurricular, formative "
     "assessment, GPA, kindergarten, learning outcomes, lecture, literacy, master's degree, "
     "pedagogy, rubric, scaffolding, semester, seminar, syllabus, thesis, tuition, tutor"},
};

#define N_DOMAINS (sizeof domains / sizeof domains[0])

int sotto_stream_domain_terms(const char *domain, const char **terms)
{
    if (!domain || !terms)
        return error_set(SOTTO_EINVAL, "sotto_stream_domain_terms: NULL argument");
    for (size_t i = 0; i < N_DOMAINS; i++) {
        if (strcmp(domain, domains[i].name) == 0) {
            *terms = domains[i].terms;
            return 0;
        }
    }
    return error_set(SOTTO_EINVAL,
                     "unknown domain '%.64s' (valid: medical, legal, technical, business, education)",
                     domain);
}

/* Append src (len bytes) to a growing string, with a separator when not empty. */
static int append(char **dst, size_t *len, const char *sep, const char *src, size_t n)
{
    size_t seplen = *len > 0 ? strlen(sep) : 0;
    char *nd = realloc(*dst, *len + seplen + n + 1);
    if (!nd)
        return error_set(SOTTO_ENOMEM, "out of memory building the stream context");
    memcpy(nd + *len, sep, seplen);
    memcpy(nd + *len + seplen, src, n);
    *len += seplen + n;
    nd[*len] = '\0';
    *dst = nd;
    return 0;
}

/* Custom terms: comma-separated, each trimmed; empty items skipped. */
static int append_terms(char **dst, size_t *len, const char *terms)
{
    const char *p = terms;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *b = p;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\n'))
            b++;
        const char *q = e;
        while (q > b && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n'))
            q--;
        if (q > b) {
            int rc = append(dst, len, ", ", b, (size_t)(q - b));
            if (rc < 0)
                return rc;
        }
        p = *e ? e + 1 : e;
    }
    return 0;
}

int context_init(stream_context *c, const char *domain, const char *terms, const char *prompt,
                 int max_words)
{
    memset(c, 0, sizeof *c);
    c->max_words = max_words;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (domain && *domain) {
        const char *dt = NULL;
        rc = sotto_stream_domain_terms(domain, &dt);
        if (rc == 0)
            rc = append(&text, &len, ", ", dt, strlen(dt));
    }
    if (rc == 0 && terms)
        rc = append_terms(&text, &len, terms);
    if (rc == 0 && len > 0)
        rc = append(&text, &len, "", ".", 1);
    if (rc == 0 && prompt && *prompt)
        rc = append(&text, &len, " ", prompt, strlen(prompt));
    if (rc == 0 && !text)
        rc = append(&text, &len, "", "", 0);
    if (rc < 0) {
        free(text);
        return rc;
    }
    c->static_text = text;
    return 0;
}

void context_free(stream_context *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_words; i++)
        free(c->words[i]);
    free(c->words);
    free(c->starts);
    free(c->static_text);
    free(c->prompt);
    memset(c, 0, sizeof *c);
}

/* Add one word (n bytes); the oldest word goes when over max_words. */
static int add_word(stream_context *c, const char *w, size_t n, double t)
{
    if (c->max_words <= 0 || n == 0)
        return 0;
    if (c->n_words == (size_t)c->max_words) {
        free(c->words[0]);
        memmove(c->words, c->words + 1, (c->n_words - 1) * sizeof *c->words);
        memmove(c->starts, c->starts + 1, (c->n_words - 1) * sizeof *c->starts);
        c->n_words--;
    }
    if (c->n_words == c->cap_words) {
        size_t cap = c->cap_words ? c->cap_words * 2 : 32;
        char **nw = realloc(c->words, cap * sizeof *nw);
        if (!nw)
            return error_set(SOTTO_ENOMEM, "out of memory growing the stream context");
        c->words = nw;
        double *ns = realloc(c->starts, cap * sizeof *ns);
        if (!ns)
            return error_set(SOTTO_ENOMEM, "out of memory growing the stream context");
        c->starts = ns;
        c->cap_words = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return error_set(SOTTO_ENOMEM, "out of memory growing the stream context");
    memcpy(copy, w, n);
    copy[n] = '\0';
    c->words[c->n_words] = copy;
    c->starts[c->n_words] = t;
    c->n_words++;
    return 0;
}

/* Split text at white space into context words. */
static int add_split(stream_context *c, const char *text, double t)
{
    const char *p = text ? text : "";
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            return 0;
        const char *b = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        int rc = add_word(c, b, (size_t)(p - b), t);
        if (rc < 0)
            return rc;
    }
}

int context_add_text(stream_context *c, const char *text, double t)
{
    return add_split(c, text, t);
}

int context_add_words(stream_context *c, const sotto_word *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = add_split(c, w[i].word, w[i].start);
        if (rc < 0)
            return rc;
    }
    return 0;
}

const char *context_prompt(stream_context *c, double before_t)
{
    size_t len = strlen(c->static_text);
    size_t n = 0;
    while (n < c->n_words && c->starts[n] < before_t)
        n++;
    size_t total = len + 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(c->words[i]) + 1;
    char *p = malloc(total);
    if (!p)
        return NULL; /* no prompt rather than failing the update */
    memcpy(p, c->static_text, len);
    size_t pos = len;
    for (size_t i = 0; i < n; i++) {
        if (pos > 0)
            p[pos++] = ' ';
        size_t m = strlen(c->words[i]);
        memcpy(p + pos, c->words[i], m);
        pos += m;
    }
    p[pos] = '\0';
    free(c->prompt);
    c->prompt = p;
    return pos > 0 ? p : NULL;
}
