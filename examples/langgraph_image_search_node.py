"""SigLIP image search as a node of a LangGraph graph.

What it shows: a ``SiglipImageRetriever`` inside a LangGraph ``StateGraph``. The ``search``
node puts the pictures that match the user's request (in any language) into the graph's state,
with SigLIP's calibrated probability. Because that probability means something on its own,
``min_probability`` can leave the result empty, and a conditional edge then routes to a
"nothing found" node instead of showing the least bad picture. The ``describe`` node is where
a multimodal chat model would go (see ``langchain_multimodal_rag.py``).

    START -> search -> describe    -> END
                    \\-> not_found -/

Run it offline on the bundled demo model (pictures of coloured shapes are generated on the fly):

    python examples/langgraph_image_search_node.py --model demo --query "一个红色的圆形"

Needs ``pip install langgraph``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from example_setup import document_line, options, scratch_pictures
from langchain_core.documents import Document
from langgraph.graph import END, START, StateGraph

from siglip_retriever import MultimodalStore, SiglipImageRetriever


class State(TypedDict, total=False):
    query: str
    documents: list[Document]
    answer: str


def build_graph(retriever: SiglipImageRetriever) -> StateGraph:
    def search(state: State) -> State:
        return {"documents": retriever.invoke(state["query"])}

    def route(state: State) -> str:
        return "describe" if state["documents"] else "not_found"

    def describe(state: State) -> State:
        names = ", ".join(Path(doc.metadata["uri"]).name for doc in state["documents"])
        return {"answer": f"found {len(state['documents'])} pictures: {names}"}

    def not_found(state: State) -> State:
        return {"answer": "no picture matches well enough"}

    graph = StateGraph(State)
    graph.add_node("search", search)
    graph.add_node("describe", describe)
    graph.add_node("not_found", not_found)
    graph.add_edge(START, "search")
    graph.add_conditional_edges("search", route, ["describe", "not_found"])
    graph.add_edge("describe", END)
    graph.add_edge("not_found", END)
    return graph


def main() -> None:
    parser = options(__doc__, k=(4, "pictures to put in the state at most"))
    parser.add_argument("--query", default="un cercle rouge", help="what to look for, in any language")
    parser.add_argument("--min-probability", type=float, default=0.05, help="leave out less likely ones")
    args = parser.parse_args()

    with scratch_pictures(args.images) as (folder, _):
        store = MultimodalStore.in_memory(model=args.model, device=args.device)
        print(f"indexed {folder}: {store.index_folder(folder).summary()}")

        retriever = SiglipImageRetriever(store=store, k=args.k, min_probability=args.min_probability)
        app = build_graph(retriever).compile()
        state: State = {"query": args.query}
        for update in app.stream(state, stream_mode="updates"):  # one update per node that ran
            for node, change in update.items():
                print(f"node {node} -> {', '.join(change)}")
                state.update(change)

        print_state(state)


def print_state(state: State) -> None:
    """The query, the documents the search node put in the state, and the answer."""
    print(f"query: {state['query']}")
    for doc in state["documents"]:
        print(f"  state document {document_line(doc)}")
    print(f"answer: {state['answer']}")


if __name__ == "__main__":
    main()
