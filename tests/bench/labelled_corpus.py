#!/usr/bin/env python3
"""labelled_corpus.py: writes a synthetic labelled-text file for the
"your own text" benchmarks (issue 17): N sentences (default 5,000) of K
classes (default 6), label<TAB>text, made here from word lists written for
it (nothing downloaded, nothing from IMDB).

Each class is a topic with its own words; a sentence mixes a few of them
with words shared by every topic, words of another topic (so a single word
rarely decides), a few non-ASCII words (cafe with an accent, naive, a
Japanese place name) and, with --noise, a share of wrong labels, so that
accuracy is neither trivial nor random. Seeded: the same arguments give the
same bytes.

    python3 tests/bench/labelled_corpus.py --out /tmp/six.tsv [--n 5000]
        [--classes 6] [--seed 1] [--noise 0.05] [--test-out /tmp/six-test.tsv --test-n 1000]
"""
import argparse
import random

TOPICS = {
    "sport": "match goal team coach league season striker keeper penalty stadium referee score "
             "championship tournament athlete sprint marathon medal trophy derby".split(),
    "weather": "rain snow storm forecast cloudy sunny wind thunder drizzle frost humid breeze "
               "temperature heatwave fog hail umbrella degrees showers chilly".split(),
    "food": "soup bread recipe oven pasta sauce garlic dessert bakery spicy salad cheese "
            "caf\u00e9 menu chef dinner flavour roast noodles butter".split(),
    "travel": "flight hotel passport luggage airport train ticket tourist beach museum "
              "\u6771\u4eac itinerary hostel border visa cruise journey map guide suitcase".split(),
    "tech": "laptop software update battery screen keyboard server bug browser app "
            "download password network cloud chip code phone install crash pixel".split(),
    "music": "song album guitar concert band melody chorus drummer singer lyrics piano "
             "playlist vinyl tour rhythm orchestra violin remix gig tune".split(),
    "health": "doctor clinic fever vaccine nurse symptoms sleep diet exercise therapy "
              "medicine pharmacy injury recovery blood pulse allergy checkup virus pain".split(),
    "money": "bank loan budget salary invoice savings tax mortgage price stock market "
             "interest credit payment refund wallet debt cash account fee".split(),
}
SHARED = ("the a this that today yesterday really quite very just so and but with about "
          "our my your their we they it was is will be again new old good bad great "
          "terrible na\u00efve honestly maybe never always some many".split())
TEMPLATES = [
    "{a} {s} {b} {s} {c}",
    "{s} {a} {s} {s} {b}",
    "{s} {s} {a} {x} {s} {b} {s}",
    "{a} {s} {x} {s}",
    "{s} {a} {b} {s} {s} {x} {c} {s}",
]


def sentence(rng, topic, others):
    words = TOPICS[topic]
    other = TOPICS[rng.choice(others)]
    fill = {k: rng.choice(words) for k in "abc"}
    text = rng.choice(TEMPLATES)
    out = []
    for part in text.split():
        key = part.strip("{}")
        if key == "s":
            out.append(rng.choice(SHARED))
        elif key == "x":
            out.append(rng.choice(other))
        else:
            out.append(fill[key])
    s = " ".join(out)
    return s[0].upper() + s[1:] + rng.choice([".", "!", "?", "..."])


def write(path, n, classes, seed, noise):
    rng = random.Random(seed)
    names = list(TOPICS)[:classes]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            topic = names[i % classes] if i < classes else rng.choice(names)
            label = topic
            if rng.random() < noise:
                label = rng.choice([t for t in names if t != topic])
            others = [t for t in TOPICS if t != topic]
            f.write(f"{label}\t{sentence(rng, topic, others)}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--classes", type=int, default=6, choices=range(2, len(TOPICS) + 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--test-out")
    ap.add_argument("--test-n", type=int, default=1000)
    a = ap.parse_args()
    write(a.out, a.n, a.classes, a.seed, a.noise)
    if a.test_out:
        write(a.test_out, a.test_n, a.classes, a.seed + 1000, a.noise)


if __name__ == "__main__":
    main()
