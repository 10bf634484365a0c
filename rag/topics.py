"""What a sentence speaks of, in any language: subjects from a small multilingual lexicon,
the countries it names (``rag.metadata``) and the known people (``rag.names``).

Alignment counts the subjects two sentences share (the dense model alone scores a White House
sentence on Taiwan close to many CCTV sentences of the same call), and the compare view lists
the subjects each side alone raises.
"""

from __future__ import annotations

import functools
import re

from rag.collection import country_name
from rag.metadata import find_countries
from rag.names import gazetteer

# Subjects readouts raise that are not a country or a person, in English, French and
# Chinese forms (Latin forms match at a word start, case ignored; Chinese as substrings).
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Taiwan", ("Taiwan", "cross-Strait", "台湾", "台独", "涉台", "台海")),
    ("Hong Kong", ("Hong Kong", "涉港", "香港")),
    ("Xinjiang", ("Xinjiang", "涉疆", "新疆")),
    ("Tibet", ("Tibet", "涉藏", "西藏")),
    ("human rights", ("human rights", "droits de l'homme", "droits humains", "人权")),
    ("trade", ("trade", "commerce", "commercial", "经贸", "贸易")),
    ("technology and export controls", ("export control", "advanced technolog", "technologies",
                                        "科技打压", "高科技", "出口管制")),
    ("sanctions", ("sanction", "制裁")),
    ("climate", ("climate", "climat", "气候")),
    ("counternarcotics and fentanyl", ("counternarcotic", "fentanyl", "禁毒", "芬太尼")),
    ("artificial intelligence", ("artificial intelligence", "intelligence artificielle",
                                 "人工智能")),
    ("military communication", ("military-to-military", "military", "militaire", "两军",
                                "军队")),
    ("South China Sea", ("South China Sea", "mer de Chine méridionale", "南海")),
    ("Korean Peninsula", ("Korean Peninsula", "denuclearization", "péninsule coréenne",
                          "朝鲜半岛")),
    ("Ukraine", ("Ukraine", "乌克兰")),
    ("Middle East", ("Middle East", "Gaza", "Moyen-Orient", "中东", "加沙", "巴以")),
    ("COVID-19 and health", ("COVID", "pandemic", "pandémie", "vaccin", "疫情", "疫苗",
                             "新冠")),
    ("nuclear", ("nuclear", "nucléaire", "核武", "无核化", "核问题", "核不扩散")),
    ("Belt and Road", ("Belt and Road", "Ceinture et la Route", "一带一路")),
    ("investment", ("invest", "投资")),
    ("visas and exchanges", ("visa", "people-to-people", "签证", "人文交流")),
    ("free trade agreement", ("free trade agreement", "free-trade agreement",
                              "libre-échange", "自贸协定", "自由贸易协定")),
    ("good offices", ("good offices", "bons offices", "protecting power", "斡旋")),
    ("multilateralism and the UN", ("multilateral", "UN Security Council", "United Nations",
                                    "multilatéral", "多边", "联合国")),
    ("global governance and shared future", ("shared future", "avenir partagé",
                                             "人类命运共同体", "全球治理", "全球倡议")),
    ("sovereignty and core interests", ("sovereignty", "core interests", "souveraineté",
                                        "intérêts vitaux", "主权", "核心利益")),
    ("misperception", ("misperception", "miscalculation", "misunderstanding", "误判",
                       "战略认知")),
    ("New Year greetings", ("New Year", "Nouvel An", "拜年", "春节", "新春")),
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_AI = re.compile(r"(?<![\w-])AI(?![\w-])")  # case kept: "ai" is a French word


def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    latin = "|".join(re.escape(f) for f in forms if not _CJK.search(f))
    chinese = "|".join(re.escape(f) for f in forms if _CJK.search(f))
    parts = [rf"(?<![\w-])(?:{latin})" if latin else "", chinese]
    return re.compile("|".join(p for p in parts if p), re.IGNORECASE)


_PATTERNS = tuple((label, _pattern(forms)) for label, forms in TOPICS)


@functools.cache
def _country(code: str) -> str:
    return country_name(code)


def topics_in(text: str, places: bool = True) -> frozenset[str]:
    """Subjects, countries and known people (and, with ``places``, the gazetteer's cities and
    organisations) a text speaks of, as labels."""
    found = {label for label, pattern in _PATTERNS if pattern.search(text)}
    if _AI.search(text):
        found.add("artificial intelligence")
    found |= {_country(code) for code in find_countries(text)}
    found |= {n.label for n in gazetteer().find(text) if places or not n.place}
    return frozenset(found)
