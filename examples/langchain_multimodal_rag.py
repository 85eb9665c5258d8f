"""Multimodal RAG with LangChain: SigLIP finds the pictures, a chat model looks at them.

What it shows: a folder of pictures indexed into a ``MultimodalStore``, and the LCEL chain

    {"images": retriever, "question": RunnablePassthrough()} | prompt | chat_model

where ``retriever`` is a ``SiglipImageRetriever`` (a question in any language -> the best
matching pictures, each with SigLIP's probability and the picture itself as base64) and
``prompt`` puts the question and the pictures into one message of image content blocks. The
chain also returns the retrieved pictures, so the answer can cite its sources.

Run it offline on the bundled demo model (pictures of coloured shapes are generated on the fly):

    python examples/langchain_multimodal_rag.py --model demo --query "un cercle rouge"

Offline, the chat model is a small stand-in that answers with what it received (the number of
image blocks and a fingerprint of each), so you can see the retrieved pictures reach the model.
With a real chat model that accepts images, any ``provider:model`` that LangChain's
``init_chat_model`` knows (needs ``pip install langchain`` and the provider's package, for example
``langchain-openai``, and its API key):

    python examples/langchain_multimodal_rag.py --images ~/Pictures \\
        --query "a dog on the beach" --chat-model openai:gpt-4o-mini
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from example_setup import document_line, options, scratch_pictures
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough

from siglip_retriever import MultimodalStore, SiglipImageRetriever
from siglip_retriever.integrations.langchain import image_content_blocks


class ReportingChatModel(BaseChatModel):
    """Offline stand-in for a hosted multimodal chat model: it answers with what it received."""

    @property
    def _llm_type(self) -> str:
        return "reporting-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        blocks = [
            b for m in messages if isinstance(m.content, list) for b in m.content if isinstance(b, dict)
        ]
        images = [b for b in blocks if b.get("type") == "image"]
        prints = [hashlib.sha256(base64.b64decode(b["base64"])).hexdigest()[:12] for b in images]
        answer = f"I received {len(images)} image blocks: " + ", ".join(f"sha256 {p}" for p in prints)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(answer))])


def chat_model_from(name: str | None) -> BaseChatModel:
    """A real chat model for ``provider:model`` (needs the ``langchain`` package), else the stand-in."""
    if name is None:
        return ReportingChatModel()
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise SystemExit("--chat-model needs the langchain package: pip install langchain") from exc
    return init_chat_model(name)


def build_prompt(inputs: dict[str, Any]) -> list[BaseMessage]:
    """One user message: the question, then every retrieved picture as an image content block."""
    question = {"type": "text", "text": f"Answer from these pictures. Question: {inputs['question']}"}
    return [HumanMessage(content=[question, *image_content_blocks(inputs["images"])])]


def main() -> None:
    parser = options(__doc__, k=(2, "pictures to send to the chat model"))
    parser.add_argument("--query", default="un cercle rouge", help="the question, in any language")
    parser.add_argument("--chat-model", help="provider:model for init_chat_model (default: offline fake)")
    args = parser.parse_args()

    chat_model = chat_model_from(args.chat_model)
    with scratch_pictures(args.images) as (folder, _):
        store = MultimodalStore.in_memory(model=args.model, device=args.device)  # or MultimodalStore(path)
        print(f"indexed {folder}: {store.index_folder(folder).summary()}")

        retriever = SiglipImageRetriever(store=store, k=args.k, include_image_base64=True)
        prompt = RunnableLambda(build_prompt)
        chain = RunnableParallel(images=retriever, question=RunnablePassthrough()).assign(
            answer=prompt | chat_model | StrOutputParser()
        )

        result = chain.invoke(args.query)
        print(f"question: {args.query}")
        print("\n".join(f"  source {document_line(doc)}" for doc in result["images"]))
        print(f"answer: {result['answer']}")


if __name__ == "__main__":
    main()
