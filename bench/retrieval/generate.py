#!/usr/bin/env python3
"""Writes bench/retrieval/dataset.json: long, dated two-person conversations with labelled
questions (single_hop, multi_hop, temporal, open_domain) and their evidence turns.

Deterministic (seeded, Python 3 standard library only): the same seed gives the same bytes.
Written for mneme, so the data is under the project's licence. See README.md beside it.

    python3 bench/retrieval/generate.py [--seed 33] [--out bench/retrieval/dataset.json]

How it is made hard: questions use other words than their evidence (synonyms, paraphrases,
descriptions that need world knowledge), both speakers often share a kind of fact with
different values, facts change over time (moves, new jobs, a second pet), and filler turns
reuse the questions' vocabulary without holding the answer.
"""

import argparse
import datetime as dt
import json
import random

DEFAULT_SEED = 33
CONVERSATIONS = 10

# ---------------------------------------------------------------- vocabulary pools

NAMES = [
    "Maria", "Jon", "Priya", "Tomasz", "Aiko", "Daniel", "Fatima", "Lucas", "Ingrid",
    "Kwame", "Sofia", "Mateo", "Hannah", "Ravi", "Chloe", "Emeka", "Yusuf", "Lena",
    "Oscar", "Mei", "Gabriel", "Nadia", "Felix", "Zara", "Andre", "Elif", "Caleb",
    "Rosa", "Viktor", "Amara", "Hugo", "Leila", "Sven", "Camila", "Idris", "Maren",
]

PARTNERS = [
    "Sam", "Alex", "Jordan", "Riley", "Morgan", "Casey", "Robin", "Jamie", "Noor",
    "Theo", "Dana", "Kai", "Quinn", "Ezra", "Farah", "Luca",
]

SIBLING_NAMES = [
    "Ana", "Ben", "Clara", "Dev", "Elena", "Finn", "Grace", "Hassan", "Iris", "Jonah",
    "Kira", "Leo", "Mira", "Nico", "Olga", "Pablo", "Rhea", "Stefan", "Tess", "Umar",
]

PETS = {
    "dog": {
        "words": ["pup", "puppy", "pooch", "doggo", "four-legged menace", "furry shadow"],
        "breeds": ["corgi", "beagle", "border collie", "dachshund", "greyhound", "shiba inu",
                   "labrador", "whippet", "basset hound", "jack russell"],
        "habit": ["chewed through the TV remote", "stole a whole baguette off the counter",
                  "howls every time the doorbell rings", "refuses to walk in the rain",
                  "dug up all my tulip bulbs"],
    },
    "cat": {
        "words": ["kitten", "kitty", "furball", "little panther", "tiny roommate"],
        "breeds": ["Maine Coon", "Siamese", "ragdoll", "Bengal", "Persian",
                   "Norwegian forest"],
        "habit": ["knocked my coffee mug off the desk", "sleeps on my keyboard during calls",
                  "yells at the birds through the window at 5am", "hides in the laundry basket",
                  "learned to open the cupboard with the treats"],
    },
    "rabbit": {
        "words": ["bunny", "lop-eared rascal", "little hopper"],
        "breeds": ["Holland lop", "Netherland dwarf", "Flemish giant", "Rex"],
        "habit": ["chewed the charger cable", "thumps the floor when I'm late with dinner",
                  "does zoomies around the sofa", "has claimed the hallway rug"],
    },
    "parrot": {
        "words": ["bird", "feathered chatterbox", "little green gremlin"],
        "breeds": ["cockatiel", "African grey", "budgie", "conure"],
        "habit": ["learned to imitate my phone's ringtone", "whistles the Mario theme",
                  "says 'hello' to the microwave", "screams when I eat without sharing"],
    },
}

# Dog breeds' countries, for the open-domain question about them.
BREED_ORIGIN = {
    "corgi": "Wales", "beagle": "England", "border collie": "the Anglo-Scottish border",
    "dachshund": "Germany", "greyhound": "England", "shiba inu": "Japan",
    "labrador": "Canada (Newfoundland)", "whippet": "England", "basset hound": "France",
    "jack russell": "England", "Maine Coon": "the United States (Maine)", "Siamese": "Thailand",
    "ragdoll": "the United States (California)", "Bengal": "the United States",
    "Persian": "Iran", "Norwegian forest": "Norway",
}

PET_NAMES = [
    "Biscuit", "Pickles", "Mochi", "Juniper", "Ziggy", "Pepper", "Noodle", "Waffles",
    "Clementine", "Bowie", "Olive", "Tofu", "Rocket", "Maple", "Nacho", "Gizmo", "Basil",
    "Pretzel", "Marble", "Sprout", "Dumpling", "Fig", "Comet", "Truffle",
]

# (role, how one says one does it, where)
JOBS = [
    ("nurse", "twelve-hour shifts on the cardiac ward", "hospital"),
    ("software engineer", "chasing a memory leak in our billing service", "tech company"),
    ("primary school teacher", "thirty kids high on sugar after the class party", "school"),
    ("accountant", "year-end closing and reconciling ledgers", "firm"),
    ("sous chef", "prepping two hundred covers on a Saturday", "restaurant"),
    ("architect", "redrawing the floor plans for the library extension", "studio"),
    ("physiotherapist", "helping a footballer rebuild his knee", "clinic"),
    ("graphic designer", "redoing a logo for the fifth time", "agency"),
    ("paralegal", "drowning in discovery documents", "law firm"),
    ("pharmacist", "counting pills and calming down anxious customers", "pharmacy"),
    ("electrician", "rewiring a hundred-year-old townhouse", "contractor"),
    ("journalist", "chasing a source for the city council story", "newspaper"),
    ("data analyst", "building the quarterly churn dashboards", "insurance company"),
    ("veterinary technician", "holding down a very angry tomcat for a blood draw", "vet clinic"),
    ("airline pilot", "a red-eye across the Atlantic", "airline"),
    ("librarian", "running the toddler story hour", "public library"),
]

COMPANIES = [
    "Northwind Logistics", "Halcyon Health", "Bramble & Co", "Vantor Labs", "Kestrel Media",
    "Ostara Foods", "Pinewood Partners", "Lumen Analytics", "Copperline", "Saltmarsh Studio",
    "Redfern Group", "Tallis & Grey", "Meridian Care", "Bluebeam Systems", "Harrow Street Bistro",
    "Orchard Lane School", "Quayside Architects", "Ironleaf Insurance", "Fernhill Clinic",
    "Atlas Courier", "Juniper Street Pharmacy", "Wren Aviation", "Gable Press", "Sundial Partners",
]

# (city, a description that names it without saying it)
CITIES = [
    ("Chicago", "the Windy City"), ("Denver", "the Mile High City"),
    ("New Orleans", "the Big Easy"), ("Nashville", "Music City"),
    ("Detroit", "the Motor City"), ("Philadelphia", "the City of Brotherly Love"),
    ("Seattle", "the rainy city with the Space Needle"),
    ("San Francisco", "the city by the Golden Gate"),
    ("Boston", "Beantown"), ("Las Vegas", "Sin City"),
    ("Edinburgh", "Scotland's capital"), ("Lisbon", "the Portuguese capital"),
    ("Toronto", "the city with the CN Tower"), ("Melbourne", "the Australian coffee capital"),
    ("Austin", "the live music capital of Texas"), ("Pittsburgh", "the Steel City"),
]

# (place, a description that needs world knowledge)
TRIPS = [
    ("Tokyo", "the Japanese capital"), ("Rome", "the Eternal City"),
    ("Reykjavik", "Iceland's capital"), ("Machu Picchu", "the old Inca citadel up in the Andes"),
    ("Egypt", "the land of the pharaohs"), ("Venice", "the city of canals and gondolas"),
    ("Amsterdam", "the Dutch capital"), ("the Grand Canyon", "that giant gorge in Arizona"),
    ("Barcelona", "Gaudi's city"), ("Istanbul", "the city that sits on two continents"),
    ("Prague", "the Czech capital"), ("New Zealand", "where they filmed Lord of the Rings"),
    ("Paris", "the City of Light"), ("Kenya", "the safari country with Nairobi as its capital"),
    ("Norway", "the land of the fjords"), ("Mexico City", "the Aztecs' old capital"),
    ("Athens", "the birthplace of democracy"), ("Bali", "the Island of the Gods in Indonesia"),
]

# (hobby as a question names it, ways one talks about it)
HOBBIES = [
    ("pottery", ["I threw my first bowl on the wheel and it only collapsed twice",
                 "I glazed three mugs at the studio, the kiln firing is next week"]),
    ("rock climbing", ["I finally topped the orange route at the bouldering gym",
                       "my forearms are destroyed from the climbing wall"]),
    ("baking sourdough", ["my starter finally doubled overnight, I named it Doughy",
                          "I pulled a loaf with a proper ear out of the dutch oven"]),
    ("birdwatching", ["I spotted a kingfisher by the reservoir with my new binoculars",
                      "I added a red-tailed hawk to my life list"]),
    ("chess", ["my online rating got past 1400 thanks to a sneaky knight fork",
               "I lost three blitz games in a row to a twelve-year-old at the club"]),
    ("knitting", ["I cast on a sweater and the cables are melting my brain",
                  "I finished a scarf and only dropped a few stitches"]),
    ("salsa dancing", ["the Thursday class drilled cross-body leads for an hour",
                       "I went to a social at the Latin club and didn't step on anyone"]),
    ("woodworking", ["I built a walnut side table in the garage",
                     "my dovetail joints are finally tight"]),
    ("gardening", ["the tomatoes on my allotment are finally ripening",
                   "I planted forty garlic cloves in the raised bed"]),
    ("film photography", ["I developed my first roll of black and white in the bathroom",
                          "I found an old Pentax at a flea market and loaded it with Portra"]),
    ("kayaking", ["I paddled around the lake at sunrise, totally flat water",
                  "I capsized twice practicing rolls in the pool"]),
    ("learning Italian", ["my Duolingo streak hit 100 days, mi chiamo finally sounds right",
                          "I ordered dinner at the trattoria without switching to English"]),
]

# (instrument as a question names it, how one talks about it)
INSTRUMENTS = [
    ("cello", "my teacher says my bowing on the low C string is finally smooth"),
    ("piano", "I can get through the first page of the Moonlight sonata with both hands"),
    ("saxophone", "the neighbours have heard a lot of squeaky reed practice this month"),
    ("violin", "bought rosin and a shoulder rest, the fiddle sounds less like a cat now"),
    ("drums", "practice pads are not as quiet as advertised, my paradiddles are getting there"),
    ("ukulele", "learned four chords on the little four-string and can play at the beach now"),
    ("trumpet", "my lips are numb from buzzing the mouthpiece all evening"),
    ("banjo", "the bluegrass rolls with three picks are harder than they look"),
]

# (title, a description that needs world knowledge)
BOOKS = [
    ("Moby-Dick", "the one about the captain obsessed with a white whale"),
    ("Pride and Prejudice", "the Austen classic with Mr Darcy"),
    ("War and Peace", "the enormous Tolstoy brick about Napoleon's invasion"),
    ("Frankenstein", "Mary Shelley's book about the stitched-together creature"),
    ("The Great Gatsby", "the Fitzgerald one with the green light across the bay"),
    ("Nineteen Eighty-Four", "Orwell's Big Brother novel"),
    ("Dune", "the desert planet saga with the giant sandworms"),
    ("The Hobbit", "Bilbo's adventure with the dragon"),
    ("Don Quixote", "the one about the knight who attacks windmills"),
    ("Jane Eyre", "the Bronte novel with the wife locked in the attic"),
    ("The Odyssey", "Homer's story of the ten-year trip home from Troy"),
    ("Crime and Punishment", "Dostoevsky's axe-murderer novel"),
]

# (allergen, the way one says it)
ALLERGIES = [
    ("peanuts", "they fry everything in groundnut oil and my throat closes up"),
    ("shellfish", "one shrimp and I'm covered in hives"),
    ("gluten", "anything with wheat flour wrecks my stomach for days"),
    ("dairy", "cheese and milk make me miserable, so it's oat milk for me"),
    ("bee stings", "I have to carry the EpiPen around anything that buzzes"),
    ("cats", "my eyes swell shut around anything with whiskers"),
    ("sesame", "tahini and those seeds on bagels send me to urgent care"),
]

# (race as a question names it, what one says, the distance)
RACES = [
    ("half marathon", "crossed the line of my first 21k", "21.1 kilometres"),
    ("marathon", "finished all 42 kilometres, my legs are jelly", "42.2 kilometres"),
    ("10K race", "ran the ten-kilometre loop around the park in under an hour", "10 kilometres"),
    ("triathlon", "did the sprint swim-bike-run thing, the open water was freezing",
     "a sprint triathlon"),
]

INJURIES = [
    ("a sprained ankle", "rolled my ankle on a root, it's the size of a grapefruit"),
    ("a broken wrist", "fractured my wrist, I'm typing one-handed with a cast"),
    ("a pulled hamstring", "tweaked the back of my thigh, can barely bend over"),
    ("a torn knee ligament", "the physio thinks I tore something in my knee"),
    ("a dislocated shoulder", "my shoulder popped out, the ER put it back"),
]

# (car as a question names it, how one says it)
CARS = [
    ("an electric SUV", "traded the old hatchback for a battery-powered crossover"),
    ("a pickup truck", "bought a used F-150, finally room for the lumber"),
    ("a vintage VW camper van", "got a 1978 Westfalia with a pop-top, it smells like old tents"),
    ("a motorcycle", "picked up a secondhand Triumph, two wheels from now on"),
    ("a hybrid hatchback", "got a little Prius, forty miles a gallon easy"),
    ("a convertible", "bought a used Miata, the roof comes down the second it's sunny"),
]

# ---------------------------------------------------------------- filler

REACTIONS = [
    "Wow, that's a lot. How are you feeling about it?",
    "Haha, that sounds exactly like you.",
    "No way! Tell me everything.",
    "That's awesome, I'm really happy for you.",
    "Oof, that sounds rough. Hang in there.",
    "Ha, I can picture it perfectly.",
    "Honestly that's the best news I've heard all week.",
    "Wait, really? I did not see that coming.",
    "Good for you, seriously.",
    "That sounds like a proper adventure.",
    "Okay I need pictures of this.",
    "You always find the most interesting things to do.",
    "Ugh, the worst. At least it's behind you now.",
    "Love that for you!",
    "That's so you, I'm not even surprised.",
    "Hmm, interesting. What made you decide that?",
    "I'm a bit jealous, not going to lie.",
    "That's wild. How did everyone react?",
]

GREETINGS = [
    "Hey {o}! Long time no talk, how have you been?",
    "Hi {o}, how was your week?",
    "{o}! I have so much to tell you.",
    "Morning {o}, got a minute to catch up?",
    "Hey hey, how's everything on your end, {o}?",
    "Hi! Sorry I went quiet, things got busy. What's new?",
]

REPLIES_TO_GREETING = [
    "Hey {o}! Pretty good, busy as always. You?",
    "Hi! Not bad at all, things are settling down.",
    "Oh, it's been a week. But good! What about you?",
    "Hey! I was just thinking about you.",
    "Doing alright, just tired. What's going on with you?",
]

GOODBYES = [
    "Anyway, I should get going. Talk soon!",
    "Okay, dinner's ready, catch you later {o}!",
    "Let's do this again next week. Bye!",
    "I have to run, but this was nice. Take care!",
    "Gotta go, the laundry is calling. Talk later!",
]

GOODBYE_REPLIES = [
    "Bye {o}! Take care.",
    "Talk soon!",
    "See you, say hi to everyone for me.",
    "Have a good one!",
]


class Conversation:
    """One conversation being written: sessions of turns, then the questions on them."""

    def __init__(self, cid, rng, a, b, sessions):
        self.cid = cid
        self.rng = rng
        self.speakers = (a, b)
        self.n = sessions
        self.dates = session_dates(rng, sessions)
        # Per session: a list of exchanges; each exchange is a list of (speaker, text, key)
        # where key (or None) names a fact the question generator refers to.
        self.slots = [[] for _ in range(sessions)]
        self.questions = []
        self.turn_ids = {}  # (subject, key) -> turn id, filled when sessions are laid out
        self.subject = a  # whom the facts being written are about

    def other(self, speaker):
        a, b = self.speakers
        return b if speaker == a else a

    def add(self, session, exchange):
        # Keys are the subject's: both speakers may have a fact of the same kind.
        self.slots[session].append(
            [(s, text, None if k is None else (self.subject, k)) for s, text, k in exchange])

    def ask(self, qtype, question, answer, keys):
        self.questions.append((qtype, question, answer, [(self.subject, k) for k in keys]))

    def two_sessions(self, lo=0, gap=2):
        """Two session indices, the first before the second by at least `gap`."""
        first = self.rng.randrange(lo, self.n - gap)
        second = self.rng.randrange(first + gap, self.n)
        return first, second

    def date(self, session):
        return self.dates[session]

    def reaction(self):
        return self.rng.choice(REACTIONS)


def session_dates(rng, n):
    start = dt.datetime(2022, 1, 3) + dt.timedelta(days=rng.randrange(0, 540))
    dates = []
    t = start
    for _ in range(n):
        t = t + dt.timedelta(days=rng.randrange(4, 24), hours=rng.randrange(0, 10),
                             minutes=rng.randrange(0, 60))
        t = t.replace(hour=max(9, min(t.hour, 21)))
        dates.append(t)
    return dates


def day(d):
    return f"{d.day} {d.strftime('%B %Y')}"


def month(d):
    return d.strftime("%B %Y")


# ---------------------------------------------------------------- facts, one function each
# Each writes its evidence exchanges into sessions and asks its questions. `p` is the
# speaker the fact is about, `o` the other one.


def fact_pet(c, p, used):
    rng = c.rng
    species = rng.choice([s for s in PETS if s not in used.get("species", ())])
    used.setdefault("species", set()).add(species)
    info = PETS[species]
    breed = rng.choice(info["breeds"])
    name = rng.choice([n for n in PET_NAMES if n not in used.setdefault("pet_names", set())])
    used["pet_names"].add(name)
    word = rng.choice(info["words"])
    o = c.other(p)
    s_adopt, s_later = c.two_sessions()
    when = rng.choice([("last Saturday", 2 + (c.date(s_adopt).weekday() + 1) % 7),
                       ("yesterday", 1), ("three days ago", 3)])
    adopt = rng.choice([
        f"Big news: {when[0]} we brought home a little {breed} {word} from the rescue.",
        f"So {when[0]} I caved and adopted a {breed}. The shelter said nobody wanted the shy {word}.",
        f"Guess who has a new roommate since {when[0]}? A tiny {breed} {word}!",
    ])
    ask_name = rng.choice([f"Omg!! What did you call the {word}?", "Stop it. Name? Photos?",
                           "That's amazing, what's the little one's name?"])
    answer_name = rng.choice([
        f"{name}! It just suited the face.", f"We went with {name}, after way too much arguing.",
        f"{name}. Don't ask, it was a long night of brainstorming.",
    ])
    c.add(s_adopt, [(p, adopt, "pet_adopt"), (o, ask_name, "pet_ask"), (p, answer_name, "pet_name")])
    habit = rng.choice(info["habit"])
    later = rng.choice([
        f"{name} {habit}, I can't even be mad.",
        f"Update from the zoo: {name} {habit}.",
        f"You won't believe it, {name} {habit} this morning.",
    ])
    c.add(s_later, [(p, later, "pet_habit"), (o, c.reaction(), None)])
    # The other speaker asks after the pet by name: shares the words, holds no new fact.
    if rng.random() < 0.6:
        s_ask = rng.randrange(s_adopt + 1, c.n)
        c.add(s_ask, [(o, f"How is {name} doing, by the way?", None),
                      (p, rng.choice(["Spoiled rotten, as expected.", "Sleeping, mostly.",
                                      "Thriving. Unlike me."]), None)])
    c.ask("single_hop", f"What is the name of the {species} {p} adopted?", name,
          ["pet_adopt", "pet_name"])
    c.ask("single_hop", f"What breed is {p}'s {species}?", breed, ["pet_adopt"])
    adopted_on = c.date(s_adopt) - dt.timedelta(days=when[1])
    c.ask("temporal", f"When did {p} get the {species}?",
          f"around {day(adopted_on)} ({when[0]} before the chat of {day(c.date(s_adopt))})",
          ["pet_adopt"])
    c.ask("multi_hop", f"What mischief has {p}'s {species} been up to?", habit,
          ["pet_habit", "pet_adopt", "pet_name"])
    if breed in BREED_ORIGIN:
        c.ask("open_domain", f"Which country does the breed of {p}'s {species} come from?",
              BREED_ORIGIN[breed], ["pet_adopt"])


def fact_job(c, p, used):
    rng = c.rng
    (role1, doing1, _), (role2, doing2, _) = rng.sample(
        [j for j in JOBS if j[0] not in used.setdefault("roles", set())], 2)
    used["roles"].update([role1, role2])
    comp1, comp2 = rng.sample([x for x in COMPANIES if x not in used.setdefault("comp", set())], 2)
    used["comp"].update([comp1, comp2])
    o = c.other(p)
    s1, s2 = c.two_sessions(gap=3)
    c.add(s1, [
        (o, rng.choice(["How's work treating you?", "Still surviving the job?",
                        "Is work any calmer lately?"]), None),
        (p, rng.choice([
            f"Exhausting. Another week of {doing1} at {comp1}.",
            f"Same as ever at {comp1}: {doing1}. Somebody has to do it.",
            f"Honestly fine, {comp1} keeps me busy with {doing1}.",
        ]), "job_first"),
    ])
    c.add(s2, [
        (p, rng.choice([
            f"I handed in my notice! In two weeks I start at {comp2} as a {role2}.",
            f"Okay, it's official: I'm leaving {comp1}. {comp2} offered me a {role2} position.",
            f"Signed the contract with {comp2} today. Goodbye {comp1}, hello life as a {role2}.",
        ]), "job_change"),
        (o, rng.choice(["Whoa, a whole career switch? Brave.", "Congrats!! You deserve it.",
                        "That's huge. Are you nervous?"]), None),
    ])
    if rng.random() < 0.7 and s2 + 1 < c.n:
        s3 = rng.randrange(s2 + 1, c.n)
        c.add(s3, [(p, rng.choice([
            f"First weeks at the new place: mostly {doing2}. I love it.",
            f"The new gig is intense, lots of {doing2}, but the team is great.",
        ]), "job_new_work"), (o, c.reaction(), None)])
        c.ask("multi_hop", f"What does {p}'s work look like after the career change?", doing2,
              ["job_new_work", "job_change"])
    c.ask("single_hop", f"Which employer did {p} leave?", comp1, ["job_change"])
    c.ask("single_hop", f"What role did {p} take on at {comp2}?", role2, ["job_change"])
    c.ask("temporal", f"When did {p} switch jobs?", f"in {month(c.date(s2))}", ["job_change"])
    c.ask("multi_hop", f"What did {p} spend their days doing before becoming a {role2}?",
          f"{doing1} at {comp1}", ["job_first", "job_change"])


def fact_home(c, p, used):
    rng = c.rng
    (city1, _), (city2, desc2) = rng.sample(
        [x for x in CITIES if x[0] not in used.setdefault("cities", set())], 2)
    used["cities"].update([city1, city2])
    o = c.other(p)
    s1, s2 = c.two_sessions(gap=3)
    c.add(s1, [(p, rng.choice([
        f"The traffic in {city1} this morning was a nightmare, forty minutes to go three miles.",
        f"My street in {city1} has a block party this weekend, the whole neighbourhood is out.",
        f"Rent in {city1} went up again, my lease renewal letter made me laugh out loud.",
    ]), "home_first"), (o, c.reaction(), None)])
    c.add(s2, [(p, rng.choice([
        f"Signed the lease! Packing everything up for {desc2} at the end of the month.",
        f"The boxes are everywhere, the movers take it all to {desc2} on Friday.",
        f"We did it, we're relocating to {desc2}. Goodbye old apartment.",
    ]), "home_move"), (o, rng.choice([
        "You're moving?! I'll miss having you close.", "A fresh start, I love it.",
        "Wow, that's far. Promise you'll visit.",
    ]), None)])
    if rng.random() < 0.5 and s2 + 1 < c.n:
        s3 = rng.randrange(s2 + 1, c.n)
        c.add(s3, [(p, rng.choice([
            "Unpacked the last box today. The new place finally feels like home.",
            "Found a coffee shop around the corner from the new flat, already a regular.",
        ]), "home_settled"), (o, c.reaction(), None)])
    c.ask("open_domain", f"What is the name of the town {p} now calls home?", city2,
          ["home_move"])
    c.ask("temporal", f"Where did {p} live before relocating?", city1, ["home_first", "home_move"])
    c.ask("temporal", f"In which month did {p} say they were moving?", month(c.date(s2)),
          ["home_move"])


def fact_trip(c, p, used):
    rng = c.rng
    place, desc = rng.choice([t for t in TRIPS if t[0] not in used.setdefault("trips", set())])
    used["trips"].add(place)
    o = c.other(p)
    s1, s2 = c.two_sessions(gap=1)
    c.add(s1, [(p, rng.choice([
        f"I booked flights to {desc} for my vacation!",
        f"Finally using my holiday days: two weeks in {desc}.",
        f"Passport renewed just in time, I'm off to {desc} soon.",
    ]), "trip_plan"), (o, rng.choice(["Jealous! What's the plan there?", "Bring me a souvenir!",
                                      "That's a bucket-list trip for sure."]), None)])
    highlight = rng.choice(["the food was unreal", "I got sunburned on day one",
                            "we got lost every single day", "the guide was hilarious",
                            "my luggage arrived four days late"])
    c.add(s2, [(o, "You're back! How was the trip?", None),
               (p, f"Incredible, though {highlight}. Already want to go back.", "trip_back")])
    c.ask("open_domain", f"Which destination did {p} fly off to?", place, ["trip_plan"])
    c.ask("multi_hop", f"What went wrong or stood out on {p}'s trip to {place}?", highlight,
          ["trip_back", "trip_plan"])
    c.ask("temporal", f"When did {p} come back from {place}?",
          f"before {day(c.date(s2))}", ["trip_back", "trip_plan"])


def fact_hobbies(c, p, used):
    rng = c.rng
    picks = rng.sample([h for h in HOBBIES if h[0] not in used.setdefault("hobbies", set())],
                       rng.choice([2, 3]))
    used["hobbies"].update(h for h, _ in picks)
    o = c.other(p)
    sessions = sorted(rng.sample(range(c.n), len(picks)))
    keys = []
    for i, ((hobby, lines), s) in enumerate(zip(picks, sessions)):
        key = f"hobby_{i}"
        keys.append(key)
        line = rng.choice(lines)
        said = rng.choice([line[0].upper() + line[1:] + ".", f"Small win this week: {line}.",
                           f"Okay, brag time: {line}!"])
        c.add(s, [(p, said, key),
                  (o, c.reaction(), None)])
    names = [h for h, _ in picks]
    answer = ", ".join(names[:-1]) + " and " + names[-1]
    c.ask("multi_hop", f"What pastimes has {p} taken up?", answer, keys)
    c.ask("single_hop", f"Which hobby did {p} mention first?", names[0], keys[:1])


def fact_sibling(c, p, used):
    rng = c.rng
    kind, word = rng.choice([("sister", "sis"), ("brother", "bro")])
    name = rng.choice([n for n in SIBLING_NAMES if n not in used.setdefault("sib", set())])
    used["sib"].add(name)
    study = rng.choice(["medicine", "law", "marine biology", "architecture", "nursing",
                        "computer science", "veterinary science", "music composition"])
    event = rng.choice(["is having a baby in the spring", "got engaged in Lisbon",
                        "bought a farmhouse with goats", "is running for city council",
                        "opened a tiny bookshop"])
    o = c.other(p)
    s1, s2 = c.two_sessions()
    c.add(s1, [(p, rng.choice([
        f"My little {word} {name} got accepted to study {study}! We're so proud.",
        f"{name}, my baby {word}, just got the acceptance letter for {study}.",
    ]), "sib_study"), (o, "That's wonderful, tell them congrats from me!", None)])
    c.add(s2, [(p, rng.choice([
        f"Family news: {name} {event}!", f"You'll never guess, {name} {event}.",
    ]), "sib_event"), (o, c.reaction(), None)])
    c.ask("single_hop", f"What is {p}'s {kind} studying?", study, ["sib_study"])
    c.ask("multi_hop", f"What big news did {p}'s {kind} share later on?", event,
          ["sib_event", "sib_study"])


def fact_race(c, p, used):
    rng = c.rng
    race, said, distance = rng.choice(RACES)
    injury, said_injury = rng.choice(INJURIES)
    o = c.other(p)
    s1, s2 = c.two_sessions(gap=2)
    c.add(s1, [(p, f"I did it, {said}!", "race"), (o, "So proud of you! Medal pic?", None)])
    c.add(s2, [(p, f"Bad luck this week: {said_injury}.", "injury"),
               (o, "Oh no, please rest and don't push it.", None)])
    c.ask("open_domain", f"What distance did {p} cover in that event?", distance, ["race"])
    c.ask("single_hop", f"What injury did {p} suffer?", injury, ["injury"])
    c.ask("temporal", f"Did {p} get hurt before or after the race?", "after", ["race", "injury"])


def fact_allergy(c, p, used):
    rng = c.rng
    allergen, said = rng.choice([a for a in ALLERGIES if a[0] not in used.setdefault("all", set())])
    used["all"].add(allergen)
    o = c.other(p)
    s = rng.randrange(c.n)
    c.add(s, [(o, "Want to try the new Thai place on Friday?", None),
              (p, f"I have to be careful there, {said}.", "allergy")])
    c.ask("single_hop", f"What is {p} allergic to?", allergen, ["allergy"])


def fact_instrument(c, p, used):
    rng = c.rng
    instrument, said = rng.choice([i for i in INSTRUMENTS
                                   if i[0] not in used.setdefault("instr", set())])
    used["instr"].add(instrument)
    o = c.other(p)
    s = rng.randrange(c.n)
    c.add(s, [(p, f"Lessons update: {said}.", "instrument"), (o, c.reaction(), None)])
    c.ask("single_hop", f"Which musical instrument is {p} learning?", instrument,
          ["instrument"])


def fact_book(c, p, used):
    rng = c.rng
    title, desc = rng.choice([b for b in BOOKS if b[0] not in used.setdefault("books", set())])
    used["books"].add(title)
    o = c.other(p)
    s = rng.randrange(c.n)
    c.add(s, [(o, "Reading anything good?", None),
              (p, f"Finally finished {desc}. Took me all winter.", "book")])
    c.ask("open_domain", f"Which classic novel has {p} completed?", title, ["book"])


def fact_car(c, p, used):
    rng = c.rng
    car, said = rng.choice([x for x in CARS if x[0] not in used.setdefault("cars", set())])
    used["cars"].add(car)
    o = c.other(p)
    s = rng.randrange(c.n)
    c.add(s, [(p, f"Did something impulsive: {said}.", "car"),
              (o, "Ha, take me for a ride sometime.", None)])
    c.ask("single_hop", f"What vehicle did {p} buy?", car, ["car"])
    c.ask("temporal", f"When did {p} get the new vehicle?", f"in {month(c.date(s))}", ["car"])


def fact_engaged(c, p, used):
    rng = c.rng
    partner = rng.choice([x for x in PARTNERS if x not in used.setdefault("partners", set())])
    used["partners"].add(partner)
    o = c.other(p)
    s1, s2 = c.two_sessions(gap=2)
    c.add(s1, [(p, rng.choice([
        f"{partner} and I have been together three years today, we had dinner on the rooftop.",
        f"{partner} surprised me with concert tickets, best partner ever.",
    ]), "partner"), (o, c.reaction(), None)])
    spot = rng.choice(["on the pier at sunset", "at the top of the hiking trail",
                       "in the middle of the farmers market", "at our favourite taco truck"])
    c.add(s2, [(p, f"{partner} got down on one knee {spot}. I said YES!", "engaged"),
               (o, "AAAH congratulations!! When's the wedding?", None)])
    c.ask("single_hop", f"Who proposed to {p}?", partner, ["engaged"])
    c.ask("single_hop", f"Where did the proposal to {p} happen?", spot, ["engaged"])
    c.ask("temporal", f"When did {p} get engaged?", f"shortly before {day(c.date(s2))}",
          ["engaged"])


FACTS = [fact_pet, fact_job, fact_home, fact_trip, fact_hobbies, fact_sibling, fact_race,
         fact_allergy, fact_instrument, fact_book, fact_car, fact_engaged]

# Turns that reuse a question's words without answering it: what a ranker must see past.
# Composed from parts, so that no two conversations read alike.
RELATIVES = ["my cousin", "my neighbour", "a coworker", "my aunt", "my roommate", "my boss",
             "a friend from college", "my uncle", "the guy at the gym", "my dentist"]
LURE_TEMPLATES = [
    "{rel} has a {species} that {habit}, it's chaos over there.",
    "{rel} keeps sending me videos of {pet_word}s, I might need one.",
    "Walked past the animal shelter, there was a {breed} in the window looking at me.",
    "{rel} just quit their job at {company}, everyone is gossiping about it.",
    "I keep seeing ads for {role} jobs, the algorithm is confused about me.",
    "{rel} said {company} is hiring, but I'm staying put.",
    "{rel} just got back from {place} and won't stop showing photos.",
    "There's a travel show about {place} on TV, the food looked amazing.",
    "{rel} is thinking about moving to {city}, rent is cheaper there apparently.",
    "I've never been to {city}, is it worth it?",
    "{rel} took up {hobby} and now that's all they talk about.",
    "I thought about trying {hobby}, then I took a nap instead.",
    "{rel} is reading {book} for a book club and hates it.",
    "Someone on the bus was reading {book}, I felt very uncultured.",
    "{rel} ran a {race} last month and I carried the snacks.",
    "{rel} is recovering from {injury}, I dropped off soup.",
    "The kid next door is learning the {instrument} and practices at 8am.",
    "{rel} bought {car} and drives it everywhere, even to the corner shop.",
    "{rel} can't eat {allergen}, so dinner parties are a puzzle.",
    "{rel} got engaged last weekend, third time's the charm apparently.",
    "{rel}'s {sib} is studying {study}, sounds intense.",
]
STUDIES = ["medicine", "law", "marine biology", "architecture", "nursing", "computer science",
           "veterinary science", "music composition"]

WHEN = ["Yesterday", "On Sunday", "Last night", "This morning", "Over the weekend",
        "After work", "On my lunch break", "Earlier today", "Friday night"]
ACTIVITIES = [
    "cleaned the oven", "went to a pub quiz", "tried a new curry recipe", "fixed the leaky tap",
    "helped {rel} carry a sofa up four flights", "went to a board game cafe",
    "watched three episodes of a cooking show", "sorted out my taxes", "went to the dentist",
    "repotted all my houseplants", "did a jigsaw puzzle with a thousand pieces",
    "rode my bike to the lake", "got a haircut that I'm unsure about", "baked banana bread",
    "went to the cinema alone", "had a picnic in the park", "reorganised the spice rack",
    "walked around the flea market", "called {rel} for two hours", "painted the bathroom door",
    "went to an open mic night", "caught up on emails", "finally returned my library books",
    "went to a friend's housewarming", "assembled a flat-pack wardrobe",
    "made dumplings from scratch", "went for a long swim", "sat in traffic for an hour",
    "went to a wine tasting", "volunteered at the food bank",
]
COMMENTS = ["it was more fun than expected", "never again", "I'm exhausted now",
            "honestly a perfect day", "it took forever", "I regret nothing",
            "it went surprisingly well", "I'm still laughing about it", "what a mess",
            "I feel like a real adult", "it rained the whole time", "ten out of ten"]
MUSINGS = [
    "The weather has been so weird lately, sunny one minute and hail the next.",
    "Do you ever feel like the week just disappears?",
    "Grocery prices are out of control lately.",
    "Is it just me or is every movie three hours long now?",
    "My sleep schedule is a mess, I was up at 4am for no reason.",
    "I keep meaning to call my grandma more often.",
    "My phone screen cracked again, I swear it jumps out of my hand.",
    "I'm thinking about repainting the living room, maybe a dark green.",
    "The people upstairs were moving furniture at midnight again.",
    "I tried meditating and thought about lunch the entire time.",
    "Our building's elevator has been broken for a week.",
    "I've been listening to a true crime podcast on my commute.",
    "My internet went down for a whole day and I was lost.",
    "Found a great little bakery two streets over.",
    "Did you see the game last night? That last-minute goal was unreal.",
]
QUESTIONS_BACK = ["What about you, anything fun?", "How was yours?", "Did you do anything?",
                  "You ever do that?", ""]


def small_talk(rng):
    """An everyday line that holds no fact a question asks about."""
    if rng.random() < 0.3:
        return rng.choice(MUSINGS)
    rel = rng.choice(RELATIVES)
    activity = rng.choice(ACTIVITIES).format(rel=rel)
    line = f"{rng.choice(WHEN)} I {activity}, {rng.choice(COMMENTS)}."
    return (line + " " + rng.choice(QUESTIONS_BACK)).strip()


def lure(rng):
    """A line that shares a question's words (a pet, a job, a city, a book...) but tells
    nothing about either speaker."""
    species = rng.choice(list(PETS))
    fill = {
        "rel": rng.choice(RELATIVES),
        "species": species,
        "habit": rng.choice(PETS[species]["habit"]),
        "pet_word": rng.choice(PETS[species]["words"]),
        "breed": rng.choice(PETS[species]["breeds"]),
        "company": rng.choice(COMPANIES),
        "role": rng.choice(JOBS)[0],
        "place": rng.choice(TRIPS)[0],
        "city": rng.choice(CITIES)[0],
        "hobby": rng.choice(HOBBIES)[0],
        "book": rng.choice(BOOKS)[0],
        "race": rng.choice(RACES)[0],
        "injury": rng.choice(INJURIES)[0],
        "instrument": rng.choice(INSTRUMENTS)[0],
        "car": rng.choice(CARS)[0],
        "allergen": rng.choice(ALLERGIES)[0],
        "sib": rng.choice(["sister", "brother"]),
        "study": rng.choice(STUDIES),
    }
    line = rng.choice(LURE_TEMPLATES).format(**fill)
    return line[0].upper() + line[1:]


def lay_out(c):
    """Fills each session to 10-20 turns with greetings, small talk and lures, and numbers
    the turns."""
    rng = c.rng
    a, b = c.speakers
    sessions, turns = [], []
    for s in range(c.n):
        sid = f"{c.cid}-s{s + 1:02d}"
        sessions.append({"id": sid, "date_time": c.dates[s].strftime("%Y-%m-%dT%H:%M:00Z")})
        exchanges = list(c.slots[s])
        opener = rng.choice([a, b])
        target = rng.randint(10, 20)
        size = sum(len(e) for e in exchanges) + 4
        while size < target:
            speaker = rng.choice([a, b])
            line = lure(rng) if rng.random() < 0.35 else small_talk(rng)
            exchanges.append([(speaker, line, None), (c.other(speaker), c.reaction(), None)])
            size += 2
        rng.shuffle(exchanges)
        closer = rng.choice([a, b])
        body = [(opener, rng.choice(GREETINGS).format(o=c.other(opener)), None),
                (c.other(opener), rng.choice(REPLIES_TO_GREETING).format(o=opener), None)]
        for e in exchanges:
            body.extend(e)
        body.append((closer, rng.choice(GOODBYES).format(o=c.other(closer)), None))
        body.append((c.other(closer), rng.choice(GOODBYE_REPLIES).format(o=closer), None))
        for t, (speaker, text, key) in enumerate(body):
            tid = f"{sid}-t{t + 1:02d}"
            turns.append({"id": tid, "session": sid, "speaker": speaker, "text": text})
            if key is not None:
                c.turn_ids[key] = tid
    return sessions, turns


def questions(c, start):
    out = []
    for i, (qtype, question, answer, keys) in enumerate(c.questions):
        evidence = [c.turn_ids[k] for k in keys]
        out.append({"id": f"{c.cid}-q{start + i + 1:03d}", "conversation": c.cid,
                    "type": qtype, "question": question, "answer": answer,
                    "evidence": evidence})
    return out


def generate(seed):
    conversations, all_questions = [], []
    names = random.Random(seed).sample(NAMES, CONVERSATIONS * 2)
    for i in range(CONVERSATIONS):
        cid = f"c{i + 1:02d}"
        rng = random.Random(f"{seed}-{cid}")
        a, b = names[2 * i], names[2 * i + 1]
        n = rng.randint(15, 25)
        c = Conversation(cid, rng, a, b, n)
        used = {}
        kinds_a = rng.sample(FACTS, rng.randint(8, 10))
        shared = rng.sample(kinds_a, rng.randint(5, 7))
        rest = [f for f in FACTS if f not in kinds_a]
        kinds_b = shared + rng.sample(rest, min(len(rest), rng.randint(1, 2)))
        for subject, kinds in ((a, kinds_a), (b, kinds_b)):
            c.subject = subject
            for f in kinds:
                f(c, subject, used)
        sessions, turns = lay_out(c)
        conversations.append({"id": cid, "speakers": [a, b], "sessions": sessions,
                              "turns": turns})
        all_questions.extend(questions(c, 0))
    return {
        "name": "mneme-retrieval",
        "version": 1,
        "seed": seed,
        "license": "Written by the mneme project (bench/retrieval/generate.py); "
                   "same licence as mneme.",
        "conversations": conversations,
        "questions": all_questions,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", default="bench/retrieval/dataset.json")
    args = ap.parse_args()
    data = generate(args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")
    turns = sum(len(c["turns"]) for c in data["conversations"])
    sessions = sum(len(c["sessions"]) for c in data["conversations"])
    by_type = {}
    for q in data["questions"]:
        by_type[q["type"]] = by_type.get(q["type"], 0) + 1
    print(f"{args.out}: {len(data['conversations'])} conversations, {sessions} sessions, "
          f"{turns} turns, {len(data['questions'])} questions {by_type}")


if __name__ == "__main__":
    main()
